"""Training jobs for integration tests, rendered by mlkube from specs, with the
KWOK annotation that sets how long their pods run."""

from __future__ import annotations

from typing import Any

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.status import Status, job_status
from mlkube.localcluster.stages import RUN_ANNOTATION
from mlkube.manifests.yamlstream import read_paths, read_text
from mlkube.render import render_specs
from mlkube.spec import load_specs

from ..conftest import EXAMPLES
from .waiting import until


def training_job(
    name: str, *, nodes: int, gpus: int, pool: str = "a100", priority: str = "ml-training-high",
    run: str = "3s", memory: str = "16Gi", extra: str = "",
) -> list[dict[str, Any]]:  # fmt: skip
    spec = f"""\
apiVersion: mlkube.dev/v1alpha1
kind: TrainingJob
metadata: {{name: {name}, namespace: ml-training}}
spec:
  image: trainer:1.0
  nodes: {nodes}
  gpusPerNode: {gpus}
  pool: {pool}
  cpu: "4"
  memory: {memory}
  priority: {priority}
  queue: training
{extra}"""
    platform = load_specs(read_paths([str(EXAMPLES / "platform.yaml")]))
    objs = render_specs([*platform, *load_specs(read_text(spec, f"{name}.yaml"))])
    job = next(o for o in objs if o["kind"] == "PyTorchJob")
    with_run(job, run)
    return [job]


def with_run(job: dict[str, Any], run: str) -> dict[str, Any]:
    for replica in job["spec"]["pytorchReplicaSpecs"].values():
        meta = replica["template"].setdefault("metadata", {})
        meta.setdefault("annotations", {})[RUN_ANNOTATION] = run
    return job


def submit(kube: Kube, objs: list[dict[str, Any]]) -> None:
    apply_objects(kube, objs)


def wait_for(kube: Kube, name: str, ok: Any, timeout: float = 120) -> Status:
    last: list[Status] = []

    def reached() -> Status | None:
        last[:] = [job_status(kube, name, "ml-training")]
        return last[0] if ok(last[0]) else None

    try:
        return until(f"{name}", reached, timeout, every=0.5)
    except AssertionError:
        raise AssertionError(f"timed out; last status: {last[0].line()}") from None


def delete_job(kube: Kube, name: str, timeout: float = 60) -> None:
    kube.delete("kubeflow.org/v1", "PyTorchJob", name, "ml-training")
    selector = f"training.kubeflow.org/job-name={name}"
    until(
        f"{name}'s pods gone", lambda: not kube.list("v1", "Pod", "ml-training", selector), timeout
    )


def workload_conditions(kube: Kube, name: str) -> dict[str, dict[str, Any]]:
    """The conditions of the Kueue Workload that owns training job ``name``, by type."""
    job = kube.get("kubeflow.org/v1", "PyTorchJob", name, "ml-training") or {}
    uid = job.get("metadata", {}).get("uid")
    for w in kube.list("kueue.x-k8s.io/v1beta2", "Workload", "ml-training"):
        if uid and any(o.get("uid") == uid for o in w["metadata"].get("ownerReferences", [])):
            return {c["type"]: c for c in w.get("status", {}).get("conditions", [])}
    return {}
