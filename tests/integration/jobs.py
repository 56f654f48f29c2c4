"""Training jobs for integration tests, rendered by mlkube from specs, with the
KWOK annotation that sets how long their pods run.

A job is a TrainJob (Kubeflow Trainer v2, what mlkube renders by default) or, with
``legacy=True``, a PyTorchJob of the Training Operator; the helpers here take either."""

from __future__ import annotations

from typing import Any

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.status import Status, job_status
from mlkube.localcluster.stages import RUN_ANNOTATION
from mlkube.manifests.yamlstream import read_text
from mlkube.render import render_specs
from mlkube.spec import SpecFile, load_specs
from mlkube.wellknown import JOB_NAME_LABEL, JOBSET_LABEL

from ..conftest import EXAMPLES
from .waiting import until

# kind → (apiVersion, the label its pods carry with the job's name)
KINDS = {
    "TrainJob": ("trainer.kubeflow.org/v1alpha1", JOBSET_LABEL),
    "PyTorchJob": ("kubeflow.org/v1", JOB_NAME_LABEL),
}
RENDER_PATCH = "mlkube.dev/render"  # the runtimePatches entry mlkube renders


def platform(*, legacy: bool = False) -> list[SpecFile]:
    """The example Platform; ``legacy``: with the Training Operator as its operator."""
    text = (EXAMPLES / "platform.yaml").read_text()
    if legacy:
        text = text.replace("\nspec:\n", "\nspec:\n  training: {operator: training-operator}\n", 1)
        assert "training-operator" in text
    return load_specs(read_text(text, str(EXAMPLES / "platform.yaml")))


def training_job(
    name: str, *, nodes: int, gpus: int, pool: str = "a100",
    priority: str | None = "ml-training-high",
    run: str = "3s", memory: str = "16Gi", extra: str = "", namespace: str = "ml-training",
    queue: str | None = "training", legacy: bool = False,
) -> list[dict[str, Any]]:  # fmt: skip
    queued = f"  queue: {queue}\n" if queue else ""
    queued += f"  priority: {priority}\n" if priority else ""
    spec = f"""\
apiVersion: mlkube.dev/v1alpha1
kind: TrainingJob
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  image: trainer:1.0
  nodes: {nodes}
  gpusPerNode: {gpus}
  pool: {pool}
  cpu: "4"
  memory: {memory}
{queued}{extra}"""
    objs = render_specs([*platform(legacy=legacy), *load_specs(read_text(spec, f"{name}.yaml"))])
    job = next(o for o in objs if o["kind"] in KINDS)
    with_run(job, run)
    return [job]


def pod_templates(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod templates of ``job`` that a test may change: a PyTorchJob's replicas, or
    the pod template of the runtime patch mlkube renders into a TrainJob."""
    if job["kind"] == "PyTorchJob":
        return [r["template"] for r in job["spec"]["pytorchReplicaSpecs"].values()]
    (patch,) = [p for p in job["spec"]["runtimePatches"] if p["manager"] == RENDER_PATCH]
    jobs = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    templates = [j["template"]["spec"]["template"] for j in jobs]
    for template in templates:
        template.setdefault("metadata", {})
    return templates


def with_run(job: dict[str, Any], run: str) -> dict[str, Any]:
    for template in pod_templates(job):
        template.setdefault("metadata", {}).setdefault("annotations", {})[RUN_ANNOTATION] = run
    return job


def submit(kube: Kube, objs: list[dict[str, Any]]) -> None:
    apply_objects(kube, objs)


def wait_for(
    kube: Kube, name: str, ok: Any, timeout: float = 120, namespace: str = "ml-training"
) -> Status:
    last: list[Status] = []

    def reached() -> Status | None:
        last[:] = [job_status(kube, name, namespace)]
        return last[0] if ok(last[0]) else None

    try:
        return until(f"{name}", reached, timeout, every=0.5)
    except AssertionError:
        raise AssertionError(f"timed out; last status: {last[0].line()}") from None


def find_job(kube: Kube, name: str, namespace: str = "ml-training") -> dict[str, Any] | None:
    """The TrainJob or PyTorchJob ``name``."""
    for kind, (api_version, _label) in KINDS.items():
        obj = kube.get(api_version, kind, name, namespace)
        if obj is not None:
            return obj
    return None


def pods_of(kube: Kube, name: str, namespace: str = "ml-training") -> list[dict[str, Any]]:
    """The pods of the training job ``name``, whichever kind it is."""
    return [
        pod
        for _api, label in KINDS.values()
        for pod in kube.list("v1", "Pod", namespace, f"{label}={name}")
    ]


def delete_job(kube: Kube, name: str, timeout: float = 60, namespace: str = "ml-training") -> None:
    for kind, (api_version, _label) in KINDS.items():
        kube.delete(api_version, kind, name, namespace)
    until(f"{name}'s pods gone", lambda: not pods_of(kube, name, namespace), timeout)


def workload_conditions(kube: Kube, name: str) -> dict[str, dict[str, Any]]:
    """The conditions of the Kueue Workload that owns training job ``name``, by type."""
    job = find_job(kube, name) or {}
    uid = job.get("metadata", {}).get("uid")
    for w in kube.list("kueue.x-k8s.io/v1beta2", "Workload", "ml-training"):
        if uid and any(o.get("uid") == uid for o in w["metadata"].get("ownerReferences", [])):
            return {c["type"]: c for c in w.get("status", {}).get("conditions", [])}
    return {}
