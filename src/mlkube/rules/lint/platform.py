"""Rules on the platform objects accelerator workloads rely on: quotas, priorities, Kueue
queues."""

from __future__ import annotations

from collections.abc import Iterator

from mlkube.manifests.objects import Manifest
from mlkube.rules.lint.inventory import Inventory
from mlkube.rules.model import Rule, Severity, Violation

_SYSTEM_PRIORITY_CLASSES = frozenset({"system-cluster-critical", "system-node-critical"})
# Kueue (LocalQueueDefaulting) gives unlabelled jobs the LocalQueue of this name.
_DEFAULT_QUEUE = "default"


def namespace_gpu_quota_missing(inv: Inventory) -> Iterator[Violation]:
    """Finds namespaces that run accelerator workloads without a quota on them.

    ## Why is this bad?
    Without a ResourceQuota on `requests.nvidia.com/gpu` (or whichever accelerator
    the workloads ask for: `requests.amd.com/gpu`, `requests.google.com/tpu`, …), one
    team's job can take every accelerator in the cluster, and nothing stops a runaway
    sweep from starving the rest. Quota on extended resources is set with the
    `requests.` prefix; devices claimed through DRA are capped per DeviceClass, as
    `<class>.deviceclass.resource.k8s.io/devices`.

    ## Example
    ```yaml
    kind: Namespace
    metadata: {name: ml-research}
    ```

    ## Use instead
    ```yaml
    kind: Namespace
    metadata: {name: ml-research}
    ---
    kind: ResourceQuota
    metadata: {name: gpu-quota, namespace: ml-research}
    spec:
      hard:
        requests.nvidia.com/gpu: "16"
    ```
    """
    used: dict[str, dict[str, list[str]]] = {}  # namespace → quota key → workloads
    for w in inv.workloads:
        keys = {k for pod in w.pods if pod.accelerators > 0 for k in pod.quota_keys}
        for key in keys:
            used.setdefault(w.namespace, {}).setdefault(key, []).append(
                f"{w.ref.kind} {w.ref.name}"
            )
    for namespace in inv.of_kind("Namespace"):
        wanted = used.get(namespace.ref.name)
        if not wanted:
            continue
        capped = {k for q in inv.namespaced("ResourceQuota", namespace.ref.name) for k in _hard(q)}
        missing = sorted(set(wanted) - capped)
        if missing:
            workloads = sorted({w for key in missing for w in wanted[key]})
            yield Violation(
                namespace.at("metadata", "name"),
                f"namespace {namespace.ref.name!r} runs accelerator workloads "
                f"({', '.join(workloads)}) but no ResourceQuota in it caps "
                f"{', '.join(missing)}",
            )


def priority_class_undefined(inv: Inventory) -> Iterator[Violation]:
    """Finds pods whose priorityClassName no PriorityClass of the input defines.

    ## Why is this bad?
    The API server rejects a pod that names an unknown PriorityClass, so the job's
    controller keeps failing to create it. This rule runs only when the input
    defines PriorityClasses itself, as a platform bundle does.

    ## Example
    ```yaml
    kind: PriorityClass
    metadata: {name: ml-training-high}
    ---
    spec:
      priorityClassName: training-high
    ```

    ## Use instead
    ```yaml
    kind: PriorityClass
    metadata: {name: ml-training-high}
    ---
    spec:
      priorityClassName: ml-training-high
    ```
    """
    defined = inv.names("PriorityClass")
    if not defined:
        return
    for w in inv.workloads:
        for pod in w.pods:
            name = pod.priority_class
            if name and name not in defined and name not in _SYSTEM_PRIORITY_CLASSES:
                where = f"{pod.role} pods" if pod.role else "pods"
                yield Violation(
                    pod.priority_at,
                    f"the {where} of {w.ref} use PriorityClass {name!r}, which the input "
                    "does not define",
                )


def queue_undefined(inv: Inventory) -> Iterator[Violation]:
    """Finds workloads whose queue label names no LocalQueue of their namespace.

    ## Why is this bad?
    Kueue suspends a job with a queue label until it admits it, and it never admits
    a job whose LocalQueue does not exist in the job's namespace: the job stays
    suspended with no pods and no error on the job itself.

    ## Example
    ```yaml
    kind: LocalQueue
    metadata: {name: research, namespace: ml}
    ---
    metadata:
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: reserach}
    ```

    ## Use instead
    ```yaml
    metadata:
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: research}
    ```
    """
    if not inv.of_kind("LocalQueue"):
        return
    for w in inv.workloads:
        if w.queue is not None and w.queue not in inv.names("LocalQueue", w.namespace):
            yield Violation(
                w.labels_at,
                f"{w.ref} names queue {w.queue!r}, but the input defines no LocalQueue of "
                f"that name in namespace {w.namespace!r}",
            )


def queue_label_missing(inv: Inventory) -> Iterator[Violation]:
    """Finds batch workloads without a queue label in a namespace that has queues.

    ## Why is this bad?
    Kueue manages only jobs that carry the `kueue.x-k8s.io/queue-name` label
    (`manageJobsWithoutQueueName` is false by default). An unlabelled job starts at
    once, outside the ClusterQueue's quota and fair sharing, and takes GPUs that
    queued jobs were promised. Kueue labels it for you only when the namespace has a
    LocalQueue named `default`.

    ## Example
    ```yaml
    kind: PyTorchJob
    metadata:
      name: train
      namespace: ml
    ```

    ## Use instead
    ```yaml
    kind: PyTorchJob
    metadata:
      name: train
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: research}
    ```
    """
    for w in inv.workloads:
        if not w.batch or w.queue is not None:
            continue
        queues = inv.names("LocalQueue", w.namespace)
        if queues and _DEFAULT_QUEUE not in queues:
            yield Violation(
                w.labels_at,
                f"{w.ref} has no kueue.x-k8s.io/queue-name label, so Kueue ignores it "
                f"although namespace {w.namespace!r} has LocalQueues ({', '.join(sorted(queues))})",
            )


def quota_gpu_limits_prefix(m: Manifest) -> Iterator[Violation]:
    """Finds ResourceQuotas that cap an extended resource such as GPUs by its limits.

    ## Why is this bad?
    Kubernetes quotas extended resources with the `requests.` prefix only: they
    cannot be overcommitted, so their limits equal their requests. The API server
    accepts a `limits.nvidia.com/gpu` key, but the quota never counts it: a pod asking
    for more GPUs than it "allows" is admitted (tested on Kubernetes 1.37, see
    docs/decisions.md). Beside `requests.nvidia.com/gpu` it is dead weight; alone, the
    namespace has no GPU quota at all.

    ## Example
    ```yaml
    kind: ResourceQuota
    spec:
      hard:
        limits.nvidia.com/gpu: "8"
    ```

    ## Use instead
    ```yaml
    kind: ResourceQuota
    spec:
      hard:
        requests.nvidia.com/gpu: "8"
    ```
    """
    if m.ref.kind != "ResourceQuota":
        return
    hard = _hard(m)
    for key in hard:
        resource = key.removeprefix("limits.")
        if resource == key or "/" not in resource:
            continue
        requests = f"requests.{resource}"
        if requests in hard:
            message = (
                f"quota key {key!r} is dead weight beside {requests!r}: quota counts "
                "extended resources by their requests only"
            )
        else:
            message = (
                f"quota key {key!r} enforces nothing: quota counts extended resources by "
                f"their requests only, so this namespace's {resource} count is unbounded"
            )
        yield Violation(m.at("spec", "hard", key), message)


def cluster_queue_flavor_undefined(inv: Inventory) -> Iterator[Violation]:
    """Finds ClusterQueue flavors that no ResourceFlavor of the input defines.

    ## Why is this bad?
    A ClusterQueue that refers to a missing ResourceFlavor is inactive: Kueue admits
    no workload from any of its LocalQueues, and every job sent there waits forever.

    ## Example
    ```yaml
    kind: ClusterQueue
    spec:
      resourceGroups:
        - coveredResources: [nvidia.com/gpu]
          flavors:
            - name: a100
              resources: [{name: nvidia.com/gpu, nominalQuota: 16}]
    ```

    ## Use instead
    ```yaml
    kind: ResourceFlavor
    metadata: {name: a100}
    spec:
      nodeLabels: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB}
    ```
    """
    defined = inv.names("ResourceFlavor")
    for queue in inv.of_kind("ClusterQueue"):
        groups = queue.get("spec", "resourceGroups")
        for g, group in enumerate(groups if isinstance(groups, list) else []):
            flavors = group.get("flavors") if isinstance(group, dict) else None
            for f, flavor in enumerate(flavors if isinstance(flavors, list) else []):
                name = flavor.get("name") if isinstance(flavor, dict) else None
                if name is not None and str(name) not in defined:
                    yield Violation(
                        queue.at("spec", "resourceGroups", g, "flavors", f, "name"),
                        f"ClusterQueue {queue.ref.name!r} uses ResourceFlavor {name!r}, which "
                        "the input does not define",
                    )


def local_queue_cluster_queue_undefined(inv: Inventory) -> Iterator[Violation]:
    """Finds LocalQueues that point at a ClusterQueue the input does not define.

    ## Why is this bad?
    A LocalQueue whose ClusterQueue does not exist is inactive: the jobs sent to it
    stay suspended, and only the LocalQueue's status says why.

    ## Example
    ```yaml
    kind: ClusterQueue
    metadata: {name: research}
    ---
    kind: LocalQueue
    metadata: {name: research, namespace: ml}
    spec: {clusterQueue: reserach}
    ```

    ## Use instead
    ```yaml
    kind: LocalQueue
    metadata: {name: research, namespace: ml}
    spec: {clusterQueue: research}
    ```
    """
    defined = inv.names("ClusterQueue")
    if not defined:
        return
    for queue in inv.of_kind("LocalQueue"):
        target = queue.get("spec", "clusterQueue")
        if target is not None and str(target) not in defined:
            yield Violation(
                queue.at("spec", "clusterQueue"),
                f"{queue.ref} points at ClusterQueue {target!r}, which the input does not define",
            )


def _hard(quota: Manifest) -> dict[str, object]:
    hard = quota.get("spec", "hard")
    return {str(k): v for k, v in hard.items()} if isinstance(hard, dict) else {}


OBJECT_RULES: tuple[Rule[Manifest], ...] = (
    Rule(
        "MK805",
        Severity.WARNING,
        "Quota accelerators with the requests. key (requests.nvidia.com/gpu) and drop the "
        "limits. key.",
        quota_gpu_limits_prefix,
    ),
)
INPUT_RULES: tuple[Rule[Inventory], ...] = (
    Rule(
        "MK801",
        Severity.WARNING,
        "Add a ResourceQuota on the accelerators the namespace uses (requests.nvidia.com/gpu, …).",
        namespace_gpu_quota_missing,
    ),
    Rule(
        "MK802",
        Severity.ERROR,
        "Define the PriorityClass in the input, or name one that it defines.",
        priority_class_undefined,
    ),
    Rule(
        "MK803",
        Severity.ERROR,
        "Name a LocalQueue defined in the workload's namespace.",
        queue_undefined,
    ),
    Rule(
        "MK804",
        Severity.WARNING,
        "Label the workload with kueue.x-k8s.io/queue-name and one of the namespace's queues.",
        queue_label_missing,
    ),
    Rule(
        "MK806",
        Severity.ERROR,
        "Define a ResourceFlavor for every flavor the ClusterQueue uses.",
        cluster_queue_flavor_undefined,
    ),
    Rule(
        "MK807",
        Severity.ERROR,
        "Point the LocalQueue at a ClusterQueue defined in the input.",
        local_queue_cluster_queue_undefined,
    ),
)
