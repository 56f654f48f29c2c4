"""The floor for bench/spot_scale.py: the least a watcher can do to get a checkpoint
request onto every job hit by a spot interruption. It lists Pods once to map each node
to the training jobs with a pod on it, watches Nodes, and when a node gets the taint
``aws-node-termination-handler/spot-itn`` writes ONE merge patch per affected job (the
annotation ``bench.mlkube.dev/floor``) from a pool of worker threads: one watch delivery
plus one API write, nothing else (no read before the write, no pods, no events).

Same Python, same client (``mlkube.cluster.client.Kube``) and the same number of
worker threads as the controller it is set beside; bench/spot_scale.py starts it.

    python bench/spot_floor.py --kubeconfig FILE [--workers 8]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlkube.cluster.client import ApiError, Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.errors import MlkubeError

SPOT_TAINT = "aws-node-termination-handler/spot-itn"
FLOOR_ANNOTATION = "bench.mlkube.dev/floor"
JobKey = tuple[str, str]  # (namespace, name)


def jobs_by_node(pods: list[dict[str, Any]]) -> dict[str, set[JobKey]]:
    """Node name → the PyTorchJobs that control a pod on it."""
    out: dict[str, set[JobKey]] = defaultdict(set)
    for pod in pods:
        meta = pod.get("metadata") or {}
        node = (pod.get("spec") or {}).get("nodeName")
        owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
        if node and owner is not None and owner.get("kind") == "PyTorchJob":
            out[str(node)].add((str(meta.get("namespace") or "default"), str(owner["name"])))
    return out


def tainted(node: dict[str, Any]) -> bool:
    return any(t.get("key") == SPOT_TAINT for t in (node.get("spec") or {}).get("taints") or [])


class Floor:
    def __init__(self, kube: Kube, workers: int) -> None:
        self.kube = kube
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="floor")
        self.jobs: dict[str, set[JobKey]] = {}
        self.done: set[str] = set()

    def patch(self, job: JobKey, node: str) -> None:
        namespace, name = job
        body = {"metadata": {"annotations": {FLOOR_ANNOTATION: node}}}
        try:
            self.kube.patch("kubeflow.org/v1", "PyTorchJob", name, body, namespace)
        except (ApiError, MlkubeError) as exc:
            print(f"patch {namespace}/{name} failed: {exc}", file=sys.stderr, flush=True)

    def on_node(self, node: dict[str, Any]) -> None:
        name = str(node["metadata"]["name"])
        if name in self.done or not tainted(node):
            return
        self.done.add(name)
        for job in self.jobs.get(name, ()):
            self.pool.submit(self.patch, job, name)

    def run(self) -> None:
        self.jobs = jobs_by_node(self.kube.list("v1", "Pod"))
        while True:
            listing = self.kube.request("GET", self.kube.resource("v1", "Node").path())
            for node in listing.get("items") or []:
                self.on_node(node)
            version = str(listing["metadata"]["resourceVersion"])
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
            print(f"{stamp} synced: {len(self.jobs)} nodes with jobs", flush=True)
            while version:
                version = self.watch(version)

    def watch(self, version: str) -> str:
        """Node events until the stream ends; "" to list again (410 Gone)."""
        for event in self.kube.watch("v1", "Node", resource_version=version,
                                     timeout_seconds=300, bookmarks=True):  # fmt: skip
            obj = event.get("object") or {}
            if event.get("type") == "ERROR":
                return ""
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if event.get("type") in ("ADDED", "MODIFIED"):
                self.on_node(obj)
        return version


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--workers", type=int, default=8, help="write threads (default 8)")
    args = parser.parse_args()
    with Kube(load_connection(args.kubeconfig)) as kube:
        Floor(kube, args.workers).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
