"""Rules on values the API server refuses to decode.

Every field of an object whose kind has a schema is checked against its type: the
Kubernetes OpenAPI for built-in kinds, the released CRDs for the ML kinds
(`apitypes`), so that a `replicas: three` or `containers: 17` is an error with its
line instead of a rule quietly skipping the object. A small declarative schema adds
what types alone do not say (counts are non-negative, a port is 1-65535) for the
fields the other rules read, and covers kinds without a schema there. Unknown fields,
enums, patterns and CEL rules stay the API server's (`kubectl apply --dry-run=server`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlkube.manifests.fieldpath import FieldPath
from mlkube.manifests.objects import Manifest
from mlkube.manifests.workloads import pod_templates
from mlkube.quantity import INT32, INT64, quantity, whole_number
from mlkube.rules.lint import apitypes
from mlkube.rules.lint.common import shown
from mlkube.rules.lint.inventory import Inventory
from mlkube.rules.model import Rule, Severity, Violation

# A type check: None when ``value`` fits, else what was expected ("an int32").
Check = Callable[[Any], str | None]


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _integer(bounds: tuple[int, int], name: str, minimum: int | None = 0) -> Check:
    def check(value: Any) -> str | None:
        number = whole_number(value, bounds)
        if number is None or (minimum is not None and number < minimum):
            article = "an" if name[0] in "aeiou" else "a"
            return f"a non-negative {name}" if minimum == 0 else f"{article} {name}"
        return None

    return check


def _quantity(value: Any) -> str | None:
    good = quantity(value) is not None and not isinstance(value, bool)
    return None if good else "a Kubernetes quantity (like 8, 500m, 64Gi)"


def _int_or_string(value: Any) -> str | None:
    if isinstance(value, str) or whole_number(value) is not None:
        return None
    return "an integer or a string"


_COUNT = _integer(INT32, "int32")
_SECONDS = _integer(INT64, "int64")
_PORT = _integer((1, 65535), "port number", minimum=1)


@dataclass(frozen=True, slots=True)
class Obj:
    """A mapping with typed fields (unknown fields are the API server's business)."""

    fields: Mapping[str, Check | Obj | ListOf | MapOf]


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Check | Obj | ListOf | MapOf


@dataclass(frozen=True, slots=True)
class MapOf:
    value: Check | Obj | ListOf | MapOf


Schema = Check | Obj | ListOf | MapOf

_METADATA = Obj(
    {
        "name": _string,
        "generateName": _string,
        "namespace": _string,
        "labels": MapOf(_string),
        "annotations": MapOf(_string),
    }
)
_ENV = Obj({"name": _string, "value": _string})
_CONTAINER = Obj(
    {
        "name": _string,
        "image": _string,
        "imagePullPolicy": _string,
        "workingDir": _string,
        "command": ListOf(_string),
        "args": ListOf(_string),
        "env": ListOf(_ENV),
        "resources": Obj({"limits": MapOf(_quantity), "requests": MapOf(_quantity)}),
        "volumeMounts": ListOf(Obj({"name": _string, "mountPath": _string, "readOnly": _boolean})),
        "ports": ListOf(Obj({"containerPort": _PORT, "name": _string, "protocol": _string})),
        "securityContext": Obj({"privileged": _boolean}),
        "readinessProbe": Obj({}),
    }
)
_VOLUME = Obj(
    {
        "name": _string,
        "hostPath": Obj({"path": _string, "type": _string}),
        "persistentVolumeClaim": Obj({"claimName": _string, "readOnly": _boolean}),
        "emptyDir": Obj({"medium": _string, "sizeLimit": _quantity}),
    }
)
_POD_SPEC = Obj(
    {
        "containers": ListOf(_CONTAINER),
        "initContainers": ListOf(_CONTAINER),
        "volumes": ListOf(_VOLUME),
        "nodeSelector": MapOf(_string),
        "tolerations": ListOf(
            Obj(
                {
                    "key": _string,
                    "operator": _string,
                    "value": _string,
                    "effect": _string,
                    "tolerationSeconds": _integer(INT64, "int64", minimum=None),
                }
            )
        ),
        "priorityClassName": _string,
        "restartPolicy": _string,
        "schedulerName": _string,
        "serviceAccountName": _string,
        "hostNetwork": _boolean,
        "terminationGracePeriodSeconds": _SECONDS,
        "activeDeadlineSeconds": _SECONDS,
        "affinity": Obj({}),
    }
)
_REPLICAS = Obj({"replicas": _COUNT})
_VOLCANO = Obj({"spec": Obj({"minAvailable": _COUNT, "tasks": ListOf(_REPLICAS)})})
# Kind-specific fields outside the pod templates, by (group, kind).
_KIND_FIELDS: dict[tuple[str, str], Obj] = {
    ("apps", "Deployment"): Obj({"spec": _REPLICAS}),
    ("apps", "StatefulSet"): Obj({"spec": _REPLICAS}),
    ("apps", "ReplicaSet"): Obj({"spec": _REPLICAS}),
    ("batch", "Job"): Obj(
        {
            "spec": Obj(
                {
                    "parallelism": _COUNT,
                    "completions": _COUNT,
                    "backoffLimit": _COUNT,
                    "activeDeadlineSeconds": _SECONDS,
                    "ttlSecondsAfterFinished": _COUNT,
                    "suspend": _boolean,
                }
            )
        }
    ),
    ("trainer.kubeflow.org", "TrainJob"): Obj(
        {"spec": Obj({"trainer": Obj({"numNodes": _COUNT})})}
    ),
    ("serving.kserve.io", "InferenceService"): Obj(
        {"spec": Obj({"predictor": Obj({"minReplicas": _COUNT, "maxReplicas": _COUNT})})}
    ),
    ("jobset.x-k8s.io", "JobSet"): Obj({"spec": Obj({"replicatedJobs": ListOf(_REPLICAS)})}),
    ("ray.io", "RayCluster"): Obj(
        {
            "spec": Obj(
                {
                    "workerGroupSpecs": ListOf(
                        Obj({"replicas": _COUNT, "minReplicas": _COUNT, "maxReplicas": _COUNT})
                    )
                }
            )
        }
    ),
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): Obj(
        {"spec": Obj({"replicas": _COUNT, "leaderWorkerTemplate": Obj({"size": _COUNT})})}
    ),
    ("batch.volcano.sh", "Job"): _VOLCANO,
    ("flow.volcano.sh", "JobTemplate"): _VOLCANO,
    ("workload.codeflare.dev", "AppWrapper"): Obj(
        {
            "spec": Obj(
                {
                    "components": ListOf(
                        Obj({"podSets": ListOf(Obj({"replicas": _COUNT, "path": _string}))})
                    )
                }
            )
        }
    ),
    ("serving.kserve.io", "LLMInferenceService"): Obj(
        {"spec": Obj({"replicas": _COUNT, "prefill": _REPLICAS})}
    ),
    ("autoscaling", "HorizontalPodAutoscaler"): Obj(
        {"spec": Obj({"minReplicas": _COUNT, "maxReplicas": _COUNT})}
    ),
    ("", "ResourceQuota"): Obj({"spec": Obj({"hard": MapOf(_quantity)})}),
    # `on: yes` in data is the key "true" with the boolean true: refused, not "yes".
    ("", "ConfigMap"): Obj({"data": MapOf(_string), "binaryData": MapOf(_string)}),
    ("", "Secret"): Obj({"data": MapOf(_string), "stringData": MapOf(_string)}),
    ("scheduling.k8s.io", "PriorityClass"): Obj(
        {"value": _integer(INT32, "int32", minimum=None), "globalDefault": _boolean}
    ),
}
_KUBEFLOW_ROLE = Obj({"replicas": _COUNT, "restartPolicy": _string})
# The Training Operator's runPolicy (kubeflow.org/v1 common types).
_RUN_POLICY = Obj(
    {
        "backoffLimit": _COUNT,
        "activeDeadlineSeconds": _SECONDS,
        "ttlSecondsAfterFinished": _COUNT,
        "suspend": _boolean,
    }
)


def _problems(value: Any, schema: Schema, path: FieldPath) -> list[tuple[FieldPath, str]]:
    """(path, problem) for each value that does not fit ``schema``."""
    out: list[tuple[FieldPath, str]] = []
    stack: list[tuple[Any, Schema, FieldPath]] = [(value, schema, path)]
    while stack:
        value, schema, path = stack.pop()
        if isinstance(schema, Obj):
            if not isinstance(value, dict):
                out.append((path, _expected("a mapping", value)))
                continue
            for name, sub in schema.fields.items():
                item = value.get(name)
                if item is not None:
                    stack.append((item, sub, (*path, name)))
        elif isinstance(schema, ListOf):
            if not isinstance(value, list):
                out.append((path, _expected("a list", value)))
                continue
            stack.extend(
                (item, schema.item, (*path, i)) for i, item in enumerate(value) if item is not None
            )
        elif isinstance(schema, MapOf):
            if not isinstance(value, dict):
                out.append((path, _expected("a mapping", value)))
                continue
            stack.extend(  # null decodes to the zero value: no error
                (item, schema.value, (*path, key))
                for key, item in value.items()
                if item is not None
            )
        else:
            expected = schema(value)
            if expected is not None:
                out.append((path, _expected(expected, value)))
    return out


def _expected(expected: str, value: Any) -> str:
    return f"expected {expected}, found {_describe(value)}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {shown(value)}"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else type(value).__name__


def _containers_of(m: Manifest) -> Iterator[tuple[FieldPath, str]]:
    """Problems on the way to each pod template, and inside it."""
    for template in pod_templates(m):
        value: Any = m.obj
        for depth, step in enumerate(template.path):
            if isinstance(step, int):  # an item of a list (a JobSet's replicatedJobs…)
                value = value[step] if isinstance(value, list) and step < len(value) else None
            else:
                value = value.get(step) if isinstance(value, dict) else None
            if value is None:
                break
            following = template.path[depth + 1] if depth + 1 < len(template.path) else None
            if isinstance(following, int):
                if not isinstance(value, list):
                    yield template.path[: depth + 1], _expected("a list", value)
                    break
            elif not isinstance(value, dict):
                yield template.path[: depth + 1], _expected("a mapping", value)
                break
        else:
            yield from _problems(value, _POD_SPEC, template.path)
            if template.path[-1] == "spec":  # a PodTemplateSpec: its labels too
                parent = template.path[:-1]
                yield from _problems(m.get(*parent), Obj({"metadata": _METADATA}), parent)


_API_SCALARS: dict[str, Check] = {
    "s": _string,
    "b": _boolean,
    "i": _integer(INT64, "int64", minimum=None),
    "i32": _integer(INT32, "int32", minimum=None),
    "n": lambda v: None if isinstance(v, int | float) and not isinstance(v, bool) else "a number",
    "q": _quantity,
    "x": _int_or_string,
}


def _api_problems(obj: dict[str, Any], root: apitypes.Type) -> list[tuple[FieldPath, str]]:
    """(path, problem) for each field of ``obj`` whose value its OpenAPI type cannot
    decode; fields the type does not know, and nulls, are left alone.

    It visits every field of every built-in object, so it is written for speed: types
    are linked (no lookups), strings (most fields) are checked inline, and a field's
    path is a (parent, key) link, made into a path only for a problem."""
    out: list[tuple[FieldPath, str]] = []
    stack: list[tuple[Any, Any, Any]] = [(obj, root, None)]
    pop, push = stack.pop, stack.append
    while stack:
        value, kind, where = pop()
        if kind is None or value is None:
            continue
        if kind == "s":
            if value.__class__ is not str:
                out.append((_path(where), _expected("a string", value)))
        elif kind.__class__ is dict:
            if value.__class__ is not dict:
                out.append((_path(where), _expected("a mapping", value)))
                continue
            for name, item in value.items():
                sub = kind.get(name)
                if sub is not None and item is not None:
                    push((item, sub, (where, name)))
        elif kind.__class__ is list:
            if kind[0] == "a":
                if value.__class__ is not list:
                    out.append((_path(where), _expected("a list", value)))
                    continue
                sub = kind[1]
                for i, item in enumerate(value):
                    push((item, sub, (where, i)))
            else:  # "m"
                if value.__class__ is not dict:
                    out.append((_path(where), _expected("a mapping", value)))
                    continue
                sub = kind[1]
                for key, item in value.items():
                    push((item, sub, (where, key)))
        else:
            expected = _API_SCALARS[kind](value)
            if expected is not None:
                out.append((_path(where), _expected(expected, value)))
    return out


def _path(where: Any) -> FieldPath:
    steps: list[str | int] = []
    while where is not None:
        where, step = where
        steps.append(step)
    return tuple(reversed(steps))


def _kubeflow_roles(m: Manifest) -> Iterator[tuple[FieldPath, str]]:
    spec = m.get("spec")
    if m.ref.group != "kubeflow.org" or not isinstance(spec, dict):
        return
    for key, roles in spec.items():
        if str(key).endswith("ReplicaSpecs"):
            yield from _problems(roles, MapOf(_KUBEFLOW_ROLE), ("spec", key))
    if "runPolicy" in spec:
        yield from _problems(spec["runPolicy"], _RUN_POLICY, ("spec", "runPolicy"))


def schema_invalid(m: Manifest) -> Iterator[Violation]:
    """Finds values of the wrong type in the fields mlkube reads.

    ## Why is this bad?
    The API server decodes each field into its Go type and refuses the whole object
    when one does not fit: `replicas: three`, a label value `1.0` (a number, not a
    string), `containers` given as a mapping, a quantity such as `500mi`. Until
    then the manifest looks fine, and the other rules skip the values they cannot
    read, so nothing else would tell you.

    ## Example
    ```yaml
    spec:
      replicas: three
      template:
        metadata:
          labels: {version: 1.0}
    ```

    ## Use instead
    ```yaml
    spec:
      replicas: 3
      template:
        metadata:
          labels: {version: "1.0"}
    ```
    """
    found = list(_problems(m.obj, Obj({"metadata": _METADATA}), ()))
    spec = m.obj.get("spec")
    if spec is not None and not isinstance(spec, dict):
        found.append((("spec",), _expected("a mapping", spec)))
    else:
        fields = _KIND_FIELDS.get((m.ref.group, m.ref.kind))
        if fields is not None:
            found += _problems(m.obj, fields, ())
        found += _kubeflow_roles(m)
        found += _containers_of(m)
    api_type = apitypes.of_kind(m.ref.api_version, m.ref.kind)
    if api_type is not None:  # a built-in kind: every field, as the OpenAPI types it
        found += _api_problems(m.obj, api_type)
    seen: set[FieldPath] = set()
    for path, problem in found:
        if path not in seen:
            seen.add(path)
            yield Violation(m.at(*path), problem)


def duplicate_key(m: Manifest) -> Iterator[Violation]:
    """Finds mapping keys given twice in one object.

    ## Why is this bad?
    kubectl applies with strict field validation by default, and the API server's
    strict decoding refuses an object with a repeated key (`key "memory" already
    set in map`). Read without it, the last value silently wins: the first one,
    often the one you meant, is gone.

    ## Example
    ```yaml
    resources:
      limits:
        memory: 64Gi
        memory: 32Gi
    ```

    ## Use instead
    ```yaml
    resources:
      limits:
        memory: 64Gi
    ```
    """
    base = m.base
    for dup in m.doc.duplicates:
        if dup.path[: len(base)] == base:
            path = (*dup.path[len(base) :], dup.key)
            yield Violation(
                m.at(*path),
                f"{m.ref}: key {shown(dup.key)} is given twice (first on line {dup.first})",
            )


OBJECT_RULES: tuple[Rule[Manifest], ...] = (
    Rule(
        "MK001",
        Severity.ERROR,
        "Give the field the type the API expects (quote strings, write counts as numbers).",
        schema_invalid,
    ),
    Rule("MK002", Severity.ERROR, "Keep one of the two keys.", duplicate_key),
)

INPUT_RULES: tuple[Rule[Inventory], ...] = ()
