"""The spot walkthrough of `make demo`: a checkpointing TrainJob runs on spot A100s, the
cloud says one of its nodes is going away, and the controller asks the job to
checkpoint, cordons the node and evicts the pods in time; the JobSet restarts off the
node without spending a restart of its budget, and the job still Completes.

    python demo/spot.py        # against $KUBECONFIG, e.g. a `mlkube cluster up` cluster
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.cluster.status import job_status
from mlkube.controller.jobs import read_record
from mlkube.localcluster.stages import RUN_ANNOTATION
from mlkube.manifests.yamlstream import read_paths
from mlkube.render import render_specs
from mlkube.spec import load_specs
from mlkube.wellknown import JOBSET_LABEL

HERE = Path(__file__).resolve().parent
JOB, NS = "spot-demo", "ml-training"
NOTICE = "aws-node-termination-handler/spot-itn"
TRAINJOB = ("trainer.kubeflow.org/v1alpha1", "TrainJob")
RENDER_PATCH = "mlkube.dev/render"


def say(message: str) -> None:
    print(f"-- {message}", flush=True)


def until(check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise SystemExit("demo: timed out")
        time.sleep(0.2)
    return value


def pods(kube: Kube) -> list[dict[str, Any]]:
    return kube.list("v1", "Pod", NS, f"{JOBSET_LABEL}={JOB}")


def run_for(job: dict[str, Any], run: str) -> None:
    """KWOK: each pod runs ``run``; set through the pod template of mlkube's patch."""
    (patch,) = [p for p in job["spec"]["runtimePatches"] if p["manager"] == RENDER_PATCH]
    for replicated in patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]:
        meta = replicated["template"]["spec"]["template"].setdefault("metadata", {})
        meta.setdefault("annotations", {})[RUN_ANNOTATION] = run


def placed_off(kube: Kube, node: str) -> dict[str, str] | None:
    """Pod → node once both pods of the job are placed, none on ``node``."""
    now = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in pods(kube)}
    if len(now) == 2 and all(now.values()) and node not in now.values():
        return now
    return None


def main() -> int:
    kube = Kube(load_connection())
    specs = load_specs(read_paths([str(HERE.parent / "examples" / "platform.yaml"),
                                   str(HERE / "spot-training.yaml")]))  # fmt: skip
    job = next(o for o in render_specs(specs) if o["kind"] == "TrainJob")
    run_for(job, "40s")
    controller = subprocess.Popen(
        [sys.executable, "-m", "mlkube", "controller", "run", "--no-leader-elect",
         "--metrics-bind-address", ""], stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        apply_objects(kube, [job])
        running = until(lambda: [p for p in pods(kube) if p["status"].get("phase") == "Running"]
                        if len(pods(kube)) == 2 else None)  # fmt: skip
        placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in running}
        say(f"{JOB} runs on spot nodes: {placed}")
        node_name = sorted(placed.values())[0]
        node = kube.get("v1", "Node", node_name) or {}
        taints = [*node["spec"].get("taints", []), {"key": NOTICE, "effect": "NoSchedule"}]
        kube.patch("v1", "Node", node_name, {"spec": {"taints": taints}})
        noticed = time.monotonic()
        say(f"AWS reclaims {node_name}: node-termination-handler taints it {NOTICE}")
        (request,) = until(lambda: read_record(
            kube.get(*TRAINJOB, JOB, NS) or {}))  # fmt: skip
        took = time.monotonic() - noticed
        say(f"{took:.2f}s later the job's record says: checkpoint request {request.id} "
            f"({request.signal} on {', '.join(request.nodes)})")  # fmt: skip
        asked = until(lambda: all(p["metadata"].get("annotations", {}).get(
            "mlkube.dev/checkpoint-request") == request.id for p in pods(kube)))  # fmt: skip
        say(f"every pod carries mlkube.dev/checkpoint-request={request.id}: {asked}")
        until(lambda: (kube.get("v1", "Node", node_name) or {})["spec"].get("unschedulable"))
        say(f"{node_name} is cordoned")
        (event,) = until(lambda: [e for e in kube.list("v1", "Event", NS)
                                  if e.get("reason") == "CheckpointRequested"])  # fmt: skip
        say(f"Event {event['reason']} on TrainJob/{JOB}: {event['message']}")
        moved = until(lambda: placed_off(kube, node_name), 90)
        say(f"evicted 10 s after the notice (120 s notice − 105 s grace − 5 s); the JobSet "
            f"restarted off the node: now {moved}")  # fmt: skip
        until(lambda: job_status(kube, JOB, NS).phase == "Succeeded", 120)
        say(f"{job_status(kube, JOB, NS).line()}")
    finally:
        os.kill(controller.pid, signal.SIGTERM)
        controller.wait(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
