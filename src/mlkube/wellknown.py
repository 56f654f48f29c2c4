"""Names that Kubernetes, its ML controllers, clouds and mlkube give to labels,
annotations and signals; shared by the renderer and the rules so both agree."""

from __future__ import annotations

from dataclasses import dataclass

GPU = "nvidia.com/gpu"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
JOB_NAME_LABEL = "training.kubeflow.org/job-name"  # Training Operator v1's pods
# A JobSet's pods; Kubeflow Trainer v2's TrainJob runs as a JobSet named after it.
JOBSET_LABEL = "jobset.sigs.k8s.io/jobset-name"
TRAINER_API = "trainer.kubeflow.org/v1alpha1"  # TrainJob and the training runtimes
JOBSET_API = "jobset.x-k8s.io/v1alpha2"
ISVC_LABEL = "serving.kserve.io/inferenceservice"
ISVC_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
# KServe v0.15 renamed Serverless to Knative (and RawDeployment to Standard); both spellings
# are still accepted.
KNATIVE_MODES = ("Knative", "Serverless")
ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
NFD_GPU_LABEL = "feature.node.kubernetes.io/pci-10de.present"  # PCI vendor 10de: NVIDIA

POOL_LABEL = "mlkube.dev/pool"
CAPACITY_LABEL = "mlkube.dev/capacity"
CHECKPOINT_PATH_ANNOTATION = "mlkube.dev/checkpoint-path"
CHECKPOINT_INTERVAL_ANNOTATION = "mlkube.dev/checkpoint-interval-seconds"
IGNORE_ANNOTATION = "mlkube.dev/ignore"
# Set on a training pod by the checkpoint controller, read by mlkube.runtime through
# the downward API: the id of the newest checkpoint request.
CHECKPOINT_REQUEST_ANNOTATION = "mlkube.dev/checkpoint-request"
PODINFO_DIR = "/etc/mlkube/podinfo"  # where training pods mount their own annotations


@dataclass(frozen=True, slots=True)
class SpotCapacity:
    """How a provider labels spot nodes, and how long a pod gets after the notice."""

    provider: str
    label: str
    value: str
    pod_notice_seconds: int


# AWS gives 2 minutes (best effort). GCP gives the VM 30 s, of which GKE's graceful
# node shutdown gives ordinary pods the first 15. Azure's Scheduled Event gives >= 30 s.
SPOT_BY_PROVIDER = {
    "aws": SpotCapacity("AWS", "eks.amazonaws.com/capacityType", "SPOT", 120),
    "gcp": SpotCapacity("GKE", "cloud.google.com/gke-spot", "true", 15),
    "azure": SpotCapacity("Azure", "kubernetes.azure.com/scalesetpriority", "spot", 30),
    "on-prem": SpotCapacity("on-prem", CAPACITY_LABEL, "spot", 120),
}
SPOT_LABELS = {
    (s.label, s.value): s
    for s in (
        *SPOT_BY_PROVIDER.values(),
        SpotCapacity("Karpenter", "karpenter.sh/capacity-type", "spot", 120),
        SpotCapacity("GKE", "cloud.google.com/gke-preemptible", "true", 15),
    )
}
