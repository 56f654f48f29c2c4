"""Rules on serving endpoints: replicas, zones, readiness, model storage, disruption."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlkube.manifests.objects import Manifest, dig
from mlkube.manifests.recognise import serves
from mlkube.manifests.workloads import KSERVE_FRAMEWORKS, Container, PodTemplate, pod_templates
from mlkube.rules.lint.common import accelerator_containers, accelerator_templates
from mlkube.rules.lint.inventory import Inventory, PodFacts, WorkloadFacts, selects
from mlkube.rules.model import Rule, Severity, Violation
from mlkube.wellknown import ZONE_LABEL

_ISVC = ("serving.kserve.io", "InferenceService")
_GPU_SERVERS = frozenset({("apps", "Deployment"), ("apps", "StatefulSet")})
_DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
_MODEL_CONTAINER = "kserve-container"


@dataclass(frozen=True, slots=True)
class _Endpoint:
    """The serving pods of an object and the field that says how many run."""

    template: PodTemplate
    field: tuple[str, ...]
    written: bool  # whether the count is set, or left to the default of 1
    what: str

    @property
    def replicas(self) -> int:
        return self.template.replicas

    @property
    def count(self) -> str:
        name = self.field[-1]
        return f"{name} is {self.replicas}" if self.written else f"{name} is unset"


def _is_isvc(m: Manifest) -> bool:
    return (m.ref.group, m.ref.kind) == _ISVC


def _endpoints(m: Manifest) -> Iterator[_Endpoint]:
    """An InferenceService's predictor, or the accelerator pods of a Deployment or
    StatefulSet that serve (a port, a model server): a GPU burn-in serves nothing."""
    if _is_isvc(m):
        if m.annotations.get(_DEPLOYMENT_MODE) == "ModelMesh":  # pods shared, not per object
            return
        minimum = ("spec", "predictor", "minReplicas")
        for template in pod_templates(m):
            if template.role == "predictor":
                yield _Endpoint(template, minimum, m.get(*minimum) is not None, "the predictor")
    elif (m.ref.group, m.ref.kind) in _GPU_SERVERS:
        replicas = ("spec", "replicas")
        for template in accelerator_templates(m):
            if serves(m, template):
                written = m.get(*replicas) is not None
                yield _Endpoint(template, replicas, written, f"accelerator {m.ref.kind}")


def endpoint_single_replica(m: Manifest) -> Iterator[Violation]:
    """Finds serving endpoints that run a single replica.

    ## Why is this bad?
    One replica means every rollout, node drain, spot reclaim or node failure drops
    the endpoint's traffic until a new pod has pulled its image, loaded the model and
    passed its readiness probe: minutes, for a large model. An InferenceService
    predictor without `minReplicas` runs one replica (KServe's default), and so does
    a Deployment without `replicas`. Production endpoints want at least two, better
    three spread over zones; a development endpoint can scale to zero instead.

    ## Example
    ```yaml
    kind: InferenceService
    spec:
      predictor:
        model:
          modelFormat: {name: huggingface}
          storageUri: s3://models/llm
    ```

    ## Use instead
    ```yaml
    kind: InferenceService
    spec:
      predictor:
        minReplicas: 3
        model:
          modelFormat: {name: huggingface}
          storageUri: s3://models/llm
    ```
    """
    for endpoint in _endpoints(m):
        if endpoint.replicas == 1:
            default = "" if endpoint.written else ", and the default is 1"
            yield Violation(
                m.at(*endpoint.field),
                f"{endpoint.what} runs a single replica ({endpoint.count}{default}): "
                "every rollout or node loss takes the endpoint down",
            )


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


def endpoint_zone_spread_missing(m: Manifest) -> Iterator[Violation]:
    """Finds replicated serving endpoints that do not spread their replicas over zones.

    ## Why is this bad?
    The scheduler packs pods where they fit: GPU nodes are few, so all replicas of an
    endpoint often land in one zone, or on one node. A zone outage (or the loss of
    that node) then takes every replica at once, and the extra replicas bought no
    availability. A `topologySpreadConstraints` entry on `topology.kubernetes.io/zone`
    (or a pod anti-affinity on that key) keeps them apart. KServe components are pod
    specs, so the predictor takes the field inline.

    ## Example
    ```yaml
    spec:
      predictor:
        minReplicas: 3
        model: {modelFormat: {name: huggingface}, storageUri: s3://models/llm}
    ```

    ## Use instead
    ```yaml
    spec:
      predictor:
        minReplicas: 3
        topologySpreadConstraints:
          - maxSkew: 1
            topologyKey: topology.kubernetes.io/zone
            whenUnsatisfiable: ScheduleAnyway
            labelSelector:
              matchLabels: {serving.kserve.io/inferenceservice: llm}
        model: {modelFormat: {name: huggingface}, storageUri: s3://models/llm}
    ```
    """
    for endpoint in _endpoints(m):
        if endpoint.replicas >= 2 and not _spreads_over_zones(endpoint.template.spec):
            yield Violation(
                endpoint.template.at("topologySpreadConstraints"),
                f"{endpoint.what} runs {endpoint.replicas} replicas with no topology spread "
                f"or anti-affinity on {ZONE_LABEL}: one zone outage can take them all",
            )


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


def serving_readiness_probe_missing(m: Manifest) -> Iterator[Violation]:
    """Finds accelerator serving containers and custom KServe predictors without a
    readiness probe.

    ## Why is this bad?
    Without a readiness probe a pod receives traffic as soon as its container starts,
    or, where KServe and Knative add their default TCP probe, as soon as the port
    opens: in both cases before a model of many gigabytes has loaded onto the GPU.
    Requests fail during every rollout and scale-up. KServe's built-in runtimes get
    their probes from the ServingRuntime; a custom container has to bring its own.

    ## Example
    ```yaml
    containers:
      - name: kserve-container
        image: vllm/vllm-openai:v0.6.3
        resources:
          limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    containers:
      - name: kserve-container
        image: vllm/vllm-openai:v0.6.3
        readinessProbe:
          httpGet: {path: /health, port: 8000}
          periodSeconds: 10
        resources:
          limits: {nvidia.com/gpu: 1}
    ```
    """
    if _is_isvc(m):
        model = _custom_model_container(m)
        if model is not None and model.spec.get("readinessProbe") is None:
            yield Violation(
                m.at(*model.field("readinessProbe")),
                f"predictor container {model.name!r} has no readinessProbe: it gets traffic "
                "before its model has loaded",
            )
    elif (m.ref.group, m.ref.kind) in _GPU_SERVERS:
        for template, c in accelerator_containers(m):
            if c.spec.get("readinessProbe") is None and serves(m, template):
                yield Violation(
                    m.at(*c.field("readinessProbe")),
                    f"serving container {c.name!r} of the {template.where} has no "
                    "readinessProbe: it gets traffic before its model has loaded",
                )


def model_storage_uri_missing(inv: Inventory) -> Iterator[Violation]:
    """Finds KServe model predictors that do not say where their model is stored.

    ## Why is this bad?
    Without `storageUri` the model has to be baked into the image: images of 20 GB
    that pull slowly on every new node, and a rebuild and push for every new model
    version. With `storageUri`, KServe's storage-initializer pulls the weights from
    object storage (or a PVC) into `/mnt/models` before the server starts. A
    multi-model server has no storageUri of its own: its TrainedModels carry one each,
    and when one in the input names the InferenceService, the predictor is not
    reported.

    ## Example
    ```yaml
    predictor:
      model:
        modelFormat: {name: huggingface}
        image: registry.example.com/llm-with-weights:v7
    ```

    ## Use instead
    ```yaml
    predictor:
      model:
        modelFormat: {name: huggingface}
        storageUri: s3://models/llm/v7
    ```
    """
    for use in inv.storageless_models:
        if not inv.trained_models(use.service):
            yield Violation(
                use.at,
                f"predictor.{use.framework} sets no storageUri and no TrainedModel of the "
                "input loads into it: the model weights must be in the image",
            )


def _replicated_endpoints(
    inv: Inventory, w: WorkloadFacts
) -> Iterator[tuple[PodFacts, dict[str, str]]]:
    """Pods of ``w`` that run two or more serving replicas, with the labels they carry:
    an InferenceService's predictor, or accelerator pods that serve (a port, a model
    server, or a Service of the input selecting them)."""
    if (w.ref.group, w.ref.kind) == _ISVC:
        for pod in w.pods:
            if pod.role == "predictor" and pod.replicas >= 2:
                # KServe copies the InferenceService's labels onto its pods.
                yield pod, {**w.labels, **pod.labels}
        return
    for pod in w.pods:
        if pod.replicas >= 2 and inv.accelerated(w, pod) and inv.serving(w, pod):
            yield pod, pod.labels


def endpoint_pdb_missing(inventory: Inventory) -> Iterator[Violation]:
    """Finds replicated serving endpoints that no PodDisruptionBudget protects.

    ## Why is this bad?
    Without a PodDisruptionBudget, `kubectl drain`, node upgrades and the cluster
    autoscaler may evict every replica of an endpoint at once: the replicas run for
    availability, and a routine drain still takes the endpoint down. KServe labels
    predictor pods `serving.kserve.io/inferenceservice: <name>`; a budget selecting
    that label makes drains wait for replacements.

    ## Example
    ```yaml
    kind: InferenceService
    metadata: {name: llm, namespace: serving}
    spec:
      predictor: {minReplicas: 3}
    ```

    ## Use instead
    ```yaml
    kind: PodDisruptionBudget
    metadata: {name: llm, namespace: serving}
    spec:
      maxUnavailable: 1
      selector:
        matchLabels: {serving.kserve.io/inferenceservice: llm, component: predictor}
    ```
    """
    for w in inventory.workloads:
        budgets = inventory.namespaced("PodDisruptionBudget", w.namespace)
        for pod, labels in _replicated_endpoints(inventory, w):
            if not any(selects(b.get("spec", "selector"), labels) for b in budgets):
                role = f"{pod.role} " if pod.role else ""
                yield Violation(
                    pod.at,
                    f"{w.ref} runs {pod.replicas} {role}replicas and no PodDisruptionBudget "
                    f"in namespace {w.namespace} selects them",
                )


OBJECT_RULES: tuple[Rule[Manifest], ...] = (
    Rule(
        "MK301",
        Severity.WARNING,
        "Run at least 2 replicas (3 across zones in production), or 0 to scale a "
        "development endpoint to zero.",
        endpoint_single_replica,
    ),
    Rule(
        "MK302",
        Severity.WARNING,
        "Add a topologySpreadConstraints entry on topology.kubernetes.io/zone.",
        endpoint_zone_spread_missing,
    ),
    Rule(
        "MK303",
        Severity.WARNING,
        "Add a readinessProbe that passes only once the model is loaded.",
        serving_readiness_probe_missing,
    ),
)

INPUT_RULES: tuple[Rule[Inventory], ...] = (
    Rule(
        "MK304",
        Severity.WARNING,
        "Set storageUri to the model's location in object storage, or load it with a TrainedModel.",
        model_storage_uri_missing,
    ),
    Rule(
        "MK305",
        Severity.WARNING,
        "Add a PodDisruptionBudget (maxUnavailable: 1) that selects the endpoint's pods.",
        endpoint_pdb_missing,
    ),
)
