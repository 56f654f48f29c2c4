"""Rules on the volumes training and serving pods depend on."""

from __future__ import annotations

from collections.abc import Iterator

from mlkube.manifests.objects import Manifest
from mlkube.manifests.recognise import trains
from mlkube.manifests.workloads import pod_templates
from mlkube.rules.lint.inventory import ClaimUse, Inventory, PodFacts, WorkloadFacts
from mlkube.rules.model import Rule, Severity, Violation

_SINGLE_NODE_MODES = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})
# hostPath mounts of the node's own devices and configuration hold no job data.
_SYSTEM_PATHS = ("/dev", "/sys", "/proc", "/etc", "/run", "/var/run", "/lib", "/usr")
_SYSTEM_TYPES = frozenset({"CharDevice", "BlockDevice", "Socket"})


def rwo_claim_shared(inv: Inventory) -> Iterator[Violation]:
    """Finds ReadWriteOnce claims mounted by more than one pod.

    ## Why is this bad?
    A `ReadWriteOnce` volume attaches to one node at a time. Training workers spread
    over several nodes cannot all mount it: the ones on other nodes hang in
    `ContainerCreating` with a Multi-Attach error. A `ReadWriteOncePod` volume admits a
    single pod at all, and the others stay `Pending`.

    ## Example
    ```yaml
    kind: PersistentVolumeClaim
    metadata: {name: dataset}
    spec:
      accessModes: [ReadWriteOnce]
    ---
    kind: PyTorchJob
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              volumes:
                - name: data
                  persistentVolumeClaim: {claimName: dataset}
    ```

    ## Use instead
    ```yaml
    kind: PersistentVolumeClaim
    metadata: {name: dataset}
    spec:
      accessModes: [ReadOnlyMany]   # or ReadWriteMany, on a storage class that has it
    ```
    """
    for claim in inv.of_kind("PersistentVolumeClaim"):
        raw = claim.get("spec", "accessModes")
        modes = {str(mode) for mode in raw} if isinstance(raw, list) else set()
        if not modes or not modes <= _SINGLE_NODE_MODES:
            continue
        namespace = claim.ref.namespace or "default"
        uses = list(_claim_uses(inv, claim.ref.name, namespace))
        total = sum(pod.replicas for _, pod, _ in uses)
        if total <= 1:
            continue
        mode = "/".join(sorted(modes))
        for workload, pod, use in uses:
            share = "all" if pod.replicas == total else str(pod.replicas)
            where = f"{pod.role} pods" if pod.role else "pods"
            yield Violation(
                use.where,
                f"{total} pods mount {mode} PersistentVolumeClaim {claim.ref.name!r}, "
                f"{share} of them the {where} of {workload.ref}",
            )


def _claim_uses(
    inv: Inventory, claim: str, namespace: str
) -> Iterator[tuple[WorkloadFacts, PodFacts, ClaimUse]]:
    for workload in inv.workloads:
        if workload.namespace != namespace:
            continue
        for pod in workload.pods:
            for use in pod.claims:
                if use.claim == claim:
                    yield workload, pod, use


def training_hostpath_volume(m: Manifest) -> Iterator[Violation]:
    """Finds training pods that keep data on a hostPath volume.

    ## Why is this bad?
    A hostPath volume is a directory on whichever node the pod ran on. When the pod
    is preempted, evicted or its spot node reclaimed, the replacement lands on another
    node and finds neither the dataset nor the checkpoints: the job starts over.

    ## Example
    ```yaml
    volumes:
      - name: checkpoints
        hostPath: {path: /mnt/checkpoints}
    ```

    ## Use instead
    ```yaml
    volumes:
      - name: checkpoints
        persistentVolumeClaim: {claimName: train-checkpoints}
    ```
    """
    for template in pod_templates(m):
        if not trains(m, template):
            continue
        for i, volume in enumerate(template.volumes):
            host = volume.get("hostPath")
            if isinstance(host, dict) and not _system_path(host):
                yield Violation(
                    template.at("volumes", i, "hostPath"),
                    f"volume {volume.get('name')!r} of the {template.where} of {m.ref} is the "
                    f"node's directory {host.get('path')!r}",
                )


def _system_path(host: dict[str, object]) -> bool:
    path = str(host.get("path") or "").rstrip("/")
    return str(host.get("type")) in _SYSTEM_TYPES or any(
        path == p or path.startswith(p + "/") for p in _SYSTEM_PATHS
    )


OBJECT_RULES: tuple[Rule[Manifest], ...] = (
    Rule(
        "MK602",
        Severity.WARNING,
        "Keep datasets and checkpoints on a PersistentVolumeClaim or in object storage.",
        training_hostpath_volume,
    ),
)
INPUT_RULES: tuple[Rule[Inventory], ...] = (
    Rule(
        "MK601",
        Severity.WARNING,
        "Use a ReadWriteMany or ReadOnlyMany claim for volumes that several pods share.",
        rwo_claim_shared,
    ),
)
