"""The guide's prerequisites, checked against facts gathered from a live cluster.

A violation at severity ``error`` is a failed check, ``warning`` a warning; a check
with no violation passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlkube.manifests.nodes import gpu_allocatable, gpu_labelled
from mlkube.manifests.objects import Location, ObjectRef, condition
from mlkube.rules.model import Rule, Severity, Violation
from mlkube.rules.preflight import gpumetric
from mlkube.snapshots.facts import CUSTOM_METRICS_APISERVICE, GPU_METRIC, Facts
from mlkube.wellknown import GPU, GPU_PRODUCT_LABEL, NFD_GPU_LABEL

if TYPE_CHECKING:  # a Platform comes loaded (pydantic) or not at all: listing the rules
    from mlkube.spec.models import Platform  # must not load the spec's models

# The oldest Kubernetes whose features mlkube's bundles rely on: native sidecars
# (init containers with restartPolicy: Always) are on by default from 1.29.
MINIMUM = (1, 29)
# (CRD, API version) each training operator's rendered kinds need: Kubeflow Trainer v2
# (the default) runs a TrainJob on a ClusterTrainingRuntime as a JobSet.
TRAINING_APIS = {
    "trainer": (
        ("trainjobs.trainer.kubeflow.org", "v1alpha1", "TrainJob (Kubeflow Trainer v2)"),
        (
            "clustertrainingruntimes.trainer.kubeflow.org",
            "v1alpha1",
            "ClusterTrainingRuntime (Kubeflow Trainer v2)",
        ),
        ("jobsets.jobset.x-k8s.io", "v1alpha2", "JobSet (Trainer v2 runs TrainJobs as JobSets)"),
    ),
    "training-operator": (
        ("pytorchjobs.kubeflow.org", "v1", "PyTorchJob (Kubeflow Training Operator)"),
    ),
}
# (CRD, API version) the other rendered kinds need.
REQUIRED_APIS = (
    ("inferenceservices.serving.kserve.io", "v1beta1", "InferenceService (KServe)"),
    ("clusterqueues.kueue.x-k8s.io", "v1beta2", "ClusterQueue (Kueue)"),
    ("localqueues.kueue.x-k8s.io", "v1beta2", "LocalQueue (Kueue)"),
    ("resourceflavors.kueue.x-k8s.io", "v1beta2", "ResourceFlavor (Kueue)"),
)


@dataclass(frozen=True)
class Subject:
    """What preflight judges: the cluster's facts and, if given, the Platform spec."""

    facts: Facts
    platform: Platform | None = None


def _cluster(s: Subject, field: str = "") -> Location:
    return Location(s.facts.context, 0, ObjectRef("v1", "Cluster", None, s.facts.context), field)


def _node(s: Subject, node: dict[str, Any], field: str) -> Location:
    return Location(
        s.facts.context, 0, ObjectRef("v1", "Node", None, node["metadata"]["name"]), field
    )


def kubernetes_version(s: Subject) -> Iterator[Violation]:
    """Checks that the server is recent enough for what mlkube renders.

    ## Why is this bad?
    Native sidecars (init containers with `restartPolicy: Always`), which serving and
    logging sidecars rely on, are on by default from Kubernetes 1.29 and GA in 1.33 —
    not 1.27 as the guide says.

    ## Example
    ```text
    Server Version: v1.27.3
    ```

    ## Use instead
    ```text
    Server Version: v1.33.0 or later
    ```
    """
    version = s.facts.version
    match = re.match(r"v?(\d+)\.(\d+)", str(version.get("gitVersion", "")))
    if match is None:
        yield Violation(_cluster(s, "version"), f"cannot read the server version {version!r}")
        return
    found = (int(match.group(1)), int(match.group(2)))
    if found < MINIMUM:
        yield Violation(
            _cluster(s, "version"),
            f"Kubernetes {version.get('gitVersion')} is older than {MINIMUM[0]}.{MINIMUM[1]}, "
            "the first with native sidecars on by default",
        )


def gpu_nodes_labelled(s: Subject) -> Iterator[Violation]:
    """Checks that some nodes carry the GPU labels NFD / GPU feature discovery set.

    ## Why is this bad?
    Workloads select GPU pools and models by these labels (`nvidia.com/gpu.product`,
    `feature.node.kubernetes.io/pci-10de.present`); without them nothing matches.

    ## Example
    ```text
    kubectl get nodes --show-labels   # no nvidia.com/gpu.* labels
    ```

    ## Use instead
    ```text
    install Node Feature Discovery and the GPU Operator (GPU feature discovery)
    ```
    """
    if not any(gpu_labelled(n) for n in s.facts.nodes):
        yield Violation(
            _cluster(s, "nodes"),
            f"none of {len(s.facts.nodes)} nodes has {NFD_GPU_LABEL} or {GPU_PRODUCT_LABEL}",
        )


def gpu_capacity_advertised(s: Subject) -> Iterator[Violation]:
    """Checks that every GPU-labelled node advertises `nvidia.com/gpu` capacity.

    ## Why is this bad?
    A node with GPUs but no advertised capacity means the device plugin is not
    running there: every GPU pod fails with `Insufficient nvidia.com/gpu`.

    ## Example
    ```yaml
    status: {allocatable: {cpu: "96", memory: 1Ti}}   # no nvidia.com/gpu
    ```

    ## Use instead
    ```yaml
    status: {allocatable: {cpu: "96", memory: 1Ti, nvidia.com/gpu: "8"}}
    ```
    """
    for node in s.facts.nodes:
        if gpu_labelled(node) and not gpu_allocatable(node):
            yield Violation(
                _node(s, node, "status.allocatable"),
                f"node {node['metadata']['name']} has GPU labels but advertises no {GPU}",
            )


def gpu_operator_healthy(s: Subject) -> Iterator[Violation]:
    """Checks that the GPU Operator's pods run (driver, device plugin, toolkit).

    ## Why is this bad?
    A crash-looping driver or device-plugin pod blocks every GPU workload downstream.

    ## Example
    ```text
    nvidia-driver-daemonset-x   0/1   CrashLoopBackOff
    ```

    ## Use instead
    ```text
    every pod in gpu-operator Running (or Completed, for validators)
    ```
    """
    pods = s.facts.gpu_operator_pods
    if not pods:
        yield Violation(
            _cluster(s, "namespaces/gpu-operator"),
            "no GPU Operator pods in gpu-operator: the driver and device plugin must come "
            "from somewhere else",
        )
        return
    for pod in pods:
        phase = pod.get("status", {}).get("phase")
        waiting = [
            ((c.get("state") or {}).get("waiting") or {}).get("reason")
            for c in pod.get("status", {}).get("containerStatuses") or []
        ]
        if phase not in ("Running", "Succeeded") or any(waiting):
            yield Violation(
                Location(
                    s.facts.context,
                    0,
                    ObjectRef("v1", "Pod", "gpu-operator", pod["metadata"]["name"]),
                    "status",
                ),
                f"GPU Operator pod {pod['metadata']['name']} is {phase}"
                + (f" ({', '.join(w for w in waiting if w)})" if any(waiting) else ""),
            )


def cert_manager_installed(s: Subject) -> Iterator[Violation]:
    """Checks that cert-manager is installed (Kubeflow and KServe installs use it).

    ## Why is this bad?
    Their webhooks need certificates; without cert-manager their installs stall.

    ## Example
    ```text
    certificates.cert-manager.io: not found
    ```

    ## Use instead
    ```text
    install cert-manager before Kubeflow and KServe
    ```
    """
    if "certificates.cert-manager.io" not in s.facts.crds:
        yield Violation(_cluster(s, "crds"), "cert-manager is not installed (no Certificate CRD)")


def storage_class_present(s: Subject) -> Iterator[Violation]:
    """Checks that a StorageClass exists, and one is the default.

    ## Why is this bad?
    Datasets and checkpoints live on PersistentVolumeClaims; without a class (or a
    default), claims stay Pending and so do the pods that mount them.

    ## Example
    ```text
    kubectl get storageclass   # No resources found
    ```

    ## Use instead
    ```yaml
    metadata: {annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
    ```
    """
    classes = s.facts.storage_classes
    if not classes:
        yield Violation(
            _cluster(s, "storageclasses"), "no StorageClass: claims cannot be provisioned"
        )
        return
    default = "storageclass.kubernetes.io/is-default-class"
    if not any((c["metadata"].get("annotations") or {}).get(default) == "true" for c in classes):
        yield Violation(_cluster(s, "storageclasses"), "no default StorageClass")


def ml_apis_served(s: Subject) -> Iterator[Violation]:
    """Checks that the CRDs and API versions of the rendered kinds are served.

    ## Why is this bad?
    `kubectl apply` of a TrainJob (or, on the legacy path, a PyTorchJob),
    InferenceService or Kueue queue fails with "no matches for kind" when its CRD (at
    that version) is missing. Which training CRDs are needed follows the Platform's
    `training.operator` (Kubeflow Trainer v2 when there is no Platform).

    ## Example
    ```text
    no matches for kind "ClusterQueue" in version "kueue.x-k8s.io/v1beta2"
    ```

    ## Use instead
    ```text
    install Kubeflow Trainer v2 (with JobSet), KServe and Kueue (0.16 or later for v1beta2)
    ```
    """
    operator = s.platform.spec.training.operator if s.platform is not None else "trainer"
    for crd, version, what in (*TRAINING_APIS[operator], *REQUIRED_APIS):
        served = s.facts.crds.get(crd)
        if served is None or version not in served:
            state = "not installed" if served is None else f"served only as {', '.join(served)}"
            yield Violation(_cluster(s, f"crds/{crd}"), f"{what} {version}: {state}")


def deployer_access(s: Subject) -> Iterator[Violation]:
    """Checks that the current identity may do what deploying ML workloads needs.

    ## Why is this bad?
    The guide's deployer needs `pods/exec`, `pods/log`, `persistentvolumeclaims` and
    creating PriorityClasses; a missing right surfaces halfway through a deploy.

    ## Example
    ```text
    kubectl auth can-i create priorityclasses   # no
    ```

    ## Use instead
    ```yaml
    rules: [{apiGroups: [scheduling.k8s.io], resources: [priorityclasses], verbs: [create]}]
    ```
    """
    for what, allowed in sorted(s.facts.access.items()):
        if not allowed:
            yield Violation(_cluster(s, "access"), f"the current identity may not {what}")


def gpu_metric_served(s: Subject) -> Iterator[Violation]:
    """Checks that the custom metrics API serves dcgm-exporter's GPU utilisation per pod.

    ## Why is this bad?
    A GPU-utilisation HPA without this metric never scales ("no metrics returned from
    custom metrics API"). The finding says why: no adapter registered, its APIService
    not Available, its rule not matching the exporter's labels, or the exporter's pod
    labels (series naming the exporter's own pods, or none of the GPU pods).

    ## Example
    ```text
    kubectl get --raw /apis/custom.metrics.k8s.io/v1beta1   # NotFound
    ```

    ## Use instead
    ```text
    prometheus-adapter with mlkube's rule for DCGM_FI_DEV_GPU_UTIL; dcgm-exporter with
    DCGM_EXPORTER_KUBERNETES=true, scraped with honorLabels: true
    ```
    """
    f = s.facts
    where = _cluster(s, "apis/custom.metrics.k8s.io")
    api = f.custom_metrics_apiservice
    if api is None and f.custom_metrics is None:
        yield Violation(
            where,
            f"no APIService registers custom.metrics.k8s.io ({CUSTOM_METRICS_APISERVICE}): "
            "no metrics adapter is installed",
        )
        return
    available = condition(api, "Available") if api is not None else {"status": "True"}
    if available.get("status") != "True":
        service = (api or {}).get("spec", {}).get("service") or {}
        yield Violation(
            where,
            f"APIService {CUSTOM_METRICS_APISERVICE} is not Available: "
            f"{available.get('reason')}: {available.get('message', '')} (the adapter "
            f"behind Service {service.get('namespace')}/{service.get('name')})",
        )
        return
    if f"pods/{GPU_METRIC}" not in f.custom_metric_resources:
        cause = gpumetric.rule_problem(f) or (
            "the adapter's rule selects series labelled with namespace and pod, and the "
            "exporter's series carry none: run dcgm-exporter with "
            "DCGM_EXPORTER_KUBERNETES=true and scrape it with honorLabels: true"
            + ("" if f.adapter_config else " (the adapter's configuration was not found)")
        )
        yield Violation(where, f"the custom metrics API serves no pods/{GPU_METRIC}: {cause}")
        return
    problem = gpumetric.label_problem(f)
    if problem is not None:
        yield Violation(where, problem)


def platform_pools_present(s: Subject) -> Iterator[Violation]:
    """Checks that the cluster has the GPU pools the Platform spec describes.

    ## Why is this bad?
    Jobs and queues rendered from the Platform select pools by their labels and
    tolerate their taints; a pool missing or smaller than declared leaves them Pending
    or gives Kueue quota that no node can back.

    ## Example
    ```text
    pool a100: 1 node with mlkube.dev/pool=a100, the Platform says 2
    ```

    ## Use instead
    ```text
    label the pool's nodes as the Platform says (mlkube.dev/pool, GPU product)
    ```
    """
    if s.platform is None:
        return
    from mlkube.render.labels import pool_selector  # noqa: PLC0415 - with a Platform only

    for pool in s.platform.spec.pools:
        selector = pool_selector(pool)
        nodes = [
            n for n in s.facts.nodes
            if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
        ]  # fmt: skip
        where = _cluster(s, f"pools/{pool.name}")
        if len(nodes) < pool.nodes:
            yield Violation(
                where,
                f"pool {pool.name}: {len(nodes)} node(s) match {selector}, "
                f"the Platform says {pool.nodes}",
            )
        for node in nodes:
            if gpu_allocatable(node) != pool.gpus_advertised:
                yield Violation(
                    _node(s, node, "status.allocatable"),
                    f"pool {pool.name}: node {node['metadata']['name']} advertises "
                    f"{gpu_allocatable(node):g} GPUs, the Platform says {pool.gpus_advertised}",
                )
            taints = {
                (t.get("key"), t.get("effect")) for t in node.get("spec", {}).get("taints") or []
            }
            for taint in pool.taints:
                if (taint.key, taint.effect) not in taints:
                    yield Violation(
                        _node(s, node, "spec.taints"),
                        f"pool {pool.name}: node {node['metadata']['name']} lacks taint "
                        f"{taint.key}:{taint.effect}",
                    )


RULES: tuple[Rule[Subject], ...] = (
    Rule(
        "PF101",
        Severity.ERROR,
        "Upgrade the cluster to Kubernetes 1.29 or later.",
        kubernetes_version,
    ),
    Rule("PF102", Severity.ERROR, "Install NFD and GPU feature discovery.", gpu_nodes_labelled),
    Rule(
        "PF103",
        Severity.ERROR,
        "Run the NVIDIA device plugin on GPU nodes.",
        gpu_capacity_advertised,
    ),
    Rule("PF104", Severity.WARNING, "Fix the GPU Operator's failing pods.", gpu_operator_healthy),
    Rule("PF105", Severity.WARNING, "Install cert-manager.", cert_manager_installed),
    Rule(
        "PF106",
        Severity.ERROR,
        "Create a StorageClass and mark one default.",
        storage_class_present,
    ),
    Rule("PF107", Severity.ERROR, "Install the missing controllers' CRDs.", ml_apis_served),
    Rule("PF108", Severity.ERROR, "Grant the missing rights to the deployer.", deployer_access),
    Rule("PF109", Severity.WARNING, "Serve the GPU metric through an adapter.", gpu_metric_served),
    Rule(
        "PF201", Severity.ERROR, "Make the pools match the Platform spec.", platform_pools_present
    ),
)
