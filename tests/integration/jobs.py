"""Training jobs for integration tests, rendered by mlkube from specs, with the
KWOK annotation that sets how long their pods run."""

from __future__ import annotations

import time
from typing import Any

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.status import Status, job_status
from mlkube.localcluster.stages import RUN_ANNOTATION
from mlkube.manifests.yamlstream import read_paths, read_text
from mlkube.render import render_specs
from mlkube.spec import load_specs

from ..conftest import EXAMPLES


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
    deadline = time.monotonic() + timeout
    status = job_status(kube, name, "ml-training")
    while not ok(status):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last status: {status.line()}")
        time.sleep(0.5)
        status = job_status(kube, name, "ml-training")
    return status


def delete_job(kube: Kube, name: str, timeout: float = 60) -> None:
    kube.delete("kubeflow.org/v1", "PyTorchJob", name, "ml-training")
    deadline = time.monotonic() + timeout
    selector = f"training.kubeflow.org/job-name={name}"
    while kube.list("v1", "Pod", "ml-training", selector) and time.monotonic() < deadline:
        time.sleep(0.5)
