"""The serving endpoints of a manifest, reduced to what the endpoint rules ask of them.

Whether a Deployment serves may depend on a Service elsewhere in the input, so the
endpoint rules run over the whole input; each manifest leaves these facts in the
inventory as it streams past, not the manifest itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlkube.manifests.objects import Location, Manifest, ObjectRef, dig
from mlkube.manifests.recognise import serves
from mlkube.manifests.workloads import KSERVE_FRAMEWORKS, Container, PodTemplate, pod_templates
from mlkube.wellknown import ZONE_LABEL

_ISVC = ("serving.kserve.io", "InferenceService")
_SERVERS = frozenset({("apps", "Deployment"), ("apps", "StatefulSet")})
_DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
_MODEL_CONTAINER = "kserve-container"


@dataclass(frozen=True, slots=True)
class Unprobed:
    """A serving container without a readiness probe: where, and the container named."""

    at: Location
    named: str  # "predictor container 'x'", "serving container 'x' of the pods"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The serving pods of one object: how many run, whether they spread, what probes."""

    obj: ObjectRef
    what: str
    role: str
    at: Location
    labels: dict[str, str]
    replicas: int
    count_name: str  # the field that sets the count: minReplicas, replicas
    written: bool  # whether the count is set, or left to the default of 1
    replicas_at: Location
    spreads: bool
    spread_at: Location
    unprobed: tuple[Unprobed, ...]
    # Serves by its kind, port or server; else only if a Service of the input selects it.
    self_evident: bool

    @property
    def namespace(self) -> str:
        return self.obj.namespace or "default"

    @property
    def count(self) -> str:
        name = self.count_name
        return f"{name} is {self.replicas}" if self.written else f"{name} is unset"


def endpoints(m: Manifest) -> tuple[Endpoint, ...]:
    """An InferenceService's predictor, and the accelerator pods of a Deployment or
    StatefulSet: those that serve by themselves, and those a Service might select."""
    kind = (m.ref.group, m.ref.kind)
    if kind == _ISVC:
        return tuple(_predictor(m))
    if kind in _SERVERS:
        return tuple(e for e in (_server(m, t) for t in pod_templates(m)) if e is not None)
    return ()


def _predictor(m: Manifest) -> list[Endpoint]:
    if m.annotations.get(_DEPLOYMENT_MODE) == "ModelMesh":  # pods shared, not per object
        return []
    minimum = ("spec", "predictor", "minReplicas")
    out: list[Endpoint] = []
    for t in pod_templates(m):
        if t.role != "predictor":
            continue
        model = _custom_model_container(m)
        unprobed = (
            (Unprobed(m.at(*model.field("readinessProbe")), f"predictor container {model.name!r}"),)
            if model is not None and model.spec.get("readinessProbe") is None
            else ()
        )
        labels = {**m.labels, **t.labels}  # KServe copies the object's labels onto its pods
        out.append(
            Endpoint(
                m.ref, "the predictor", t.role, t.at(), labels, t.replicas, "minReplicas",
                m.get(*minimum) is not None, m.at(*minimum), _spreads_over_zones(t.spec),
                t.at("topologySpreadConstraints"), unprobed, self_evident=True,
            )
        )  # fmt: skip
    return out


def _server(m: Manifest, t: PodTemplate) -> Endpoint | None:
    """The endpoint a Deployment or StatefulSet's pods make if they get accelerators."""
    users = [c for c in t.containers if not c.init and c.accelerators() > 0]
    if not users:
        return None
    replicas = ("spec", "replicas")
    unprobed = tuple(
        Unprobed(m.at(*c.field("readinessProbe")), f"serving container {c.name!r} of the {t.where}")
        for c in users
        if c.spec.get("readinessProbe") is None
    )
    return Endpoint(
        m.ref, f"accelerator {m.ref.kind}", t.role, t.at(), t.labels, t.replicas, "replicas",
        m.get(*replicas) is not None, m.at(*replicas), _spreads_over_zones(t.spec),
        t.at("topologySpreadConstraints"), unprobed, self_evident=serves(m, t),
    )  # fmt: skip


def _custom_model_container(m: Manifest) -> Container | None:
    """The model server of a predictor given as ``containers``, as KServe picks it."""
    predictor = m.get("spec", "predictor")
    if not isinstance(predictor, dict) or any(
        isinstance(predictor.get(f), dict) for f in KSERVE_FRAMEWORKS
    ):
        return None
    custom = [
        c for t in pod_templates(m) if t.role == "predictor" for c in t.containers if not c.init
    ]
    named = [c for c in custom if c.name == _MODEL_CONTAINER]
    chosen = named or custom
    return chosen[0] if chosen else None


def _spreads_over_zones(spec: dict[str, Any]) -> bool:
    constraints = spec.get("topologySpreadConstraints")
    if isinstance(constraints, list) and any(
        isinstance(c, dict) and c.get("topologyKey") == ZONE_LABEL for c in constraints
    ):
        return True
    anti = dig(spec, ("affinity", "podAntiAffinity"))
    if not isinstance(anti, dict):
        return False
    required = anti.get("requiredDuringSchedulingIgnoredDuringExecution")
    preferred = anti.get("preferredDuringSchedulingIgnoredDuringExecution")
    terms = list(required) if isinstance(required, list) else []
    if isinstance(preferred, list):
        terms += [p.get("podAffinityTerm") for p in preferred if isinstance(p, dict)]
    return any(isinstance(t, dict) and t.get("topologyKey") == ZONE_LABEL for t in terms)
