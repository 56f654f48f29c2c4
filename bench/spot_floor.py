"""The floor for bench/spot_scale.py: the least a watcher can do to carry out a spot
interruption for every job it touches. It lists Pods once to map each node to the
training jobs with a pod on it (and each job to its pods), watches Nodes, and when a
node gets a termination taint:

- writes ONE merge patch per affected job (the annotation ``bench.mlkube.dev/floor``)
  from ``--workers`` threads: one watch delivery plus one API write, nothing else (no
  read before the write, no Events); with ``--record configmap`` it creates one
  ConfigMap per job instead (``floor-<job>``, carrying the same annotation): a record
  that passes no admission webhook, to measure what such a record would gain;
- annotates every pod of the job with ``mlkube.dev/checkpoint-request`` (one pod per
  job first, then the others, held back while a job write is pending) and evicts the
  pods on the node at the time the notice's window leaves for their grace period, from
  twice ``--workers`` threads (as the controller has; its own pool class).

Same Python, same client (``mlkube.cluster.client.Kube``) and the same numbers of
threads as the controller it is set beside; bench/spot_scale.py starts it. SIGUSR1
prints how many API requests it has made.

    python bench/spot_floor.py --kubeconfig FILE [--workers 8] [--record job|configmap]
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlkube.cluster.client import ApiError, Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.controller.jobs import REQUEST_ANNOTATION
from mlkube.controller.plan import EVICTION_MARGIN, grace
from mlkube.controller.pool import Pool
from mlkube.controller.signals import TAINT_SIGNALS, Signal
from mlkube.errors import MlkubeError

SPOT_TAINT = "aws-node-termination-handler/spot-itn"
FLOOR_ANNOTATION = "bench.mlkube.dev/floor"
FLOOR_JOB_LABEL = "bench.mlkube.dev/floor-job"  # on a ConfigMap record: whose it is


def config_map_record(job: str) -> str:
    """The name of the ConfigMap that records ``job`` (``--record configmap``)."""
    return f"floor-{job}"


JobKey = tuple[str, str]  # (namespace, name)


def index(pods: list[dict[str, Any]]) -> tuple[dict[str, set[JobKey]], dict[JobKey, list[Any]]]:
    """Node name → the PyTorchJobs that control a pod on it; job → its pods."""
    on_node: dict[str, set[JobKey]] = defaultdict(set)
    of_job: dict[JobKey, list[Any]] = defaultdict(list)
    for pod in pods:
        meta = pod.get("metadata") or {}
        node = (pod.get("spec") or {}).get("nodeName")
        owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
        if node and owner is not None and owner.get("kind") == "PyTorchJob":
            job = (str(meta.get("namespace") or "default"), str(owner["name"]))
            on_node[str(node)].add(job)
            of_job[job].append(pod)
    return on_node, of_job


def notice(node: dict[str, Any]) -> Signal | None:
    for taint in (node.get("spec") or {}).get("taints") or []:
        found = TAINT_SIGNALS.get(str(taint.get("key")))
        if found is not None and found.drain:
            return found
    return None


class Floor:
    def __init__(self, kube: Kube, workers: int, writers: int, record: str = "job") -> None:
        self.kube = kube
        self.record_kind = record
        self.records = ThreadPoolExecutor(workers, thread_name_prefix="floor")
        self._pending = 0  # job writes not yet done: pod writes wait for them
        self._lock = threading.Lock()
        self.writes = Pool(writers, hold=lambda: self._pending > 0, name="floor-writer")
        self.jobs: dict[str, set[JobKey]] = {}
        self.pods: dict[JobKey, list[Any]] = {}
        self.done: set[str] = set()
        self.tainted: set[str] = set()

    def record(self, job: JobKey, node: str) -> None:
        namespace, name = job
        body = {"metadata": {"annotations": {FLOOR_ANNOTATION: node}}}
        try:
            if self.record_kind == "configmap":
                meta = {"name": config_map_record(name), "namespace": namespace,
                        "labels": {FLOOR_JOB_LABEL: name}, **body["metadata"]}  # fmt: skip
                self.kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})
            else:
                self.kube.patch("kubeflow.org/v1", "PyTorchJob", name, body, namespace)
        except (ApiError, MlkubeError) as exc:
            print(f"patch {namespace}/{name} failed: {exc}", file=sys.stderr, flush=True)
        finally:
            with self._lock:
                self._pending -= 1

    def ask(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        body = {"metadata": {"annotations": {REQUEST_ANNOTATION: "floor"}}}
        try:
            self.kube.patch("v1", "Pod", meta["name"], body, meta["namespace"])
        except (ApiError, MlkubeError) as exc:
            print(f"patch pod {meta['name']} failed: {exc}", file=sys.stderr, flush=True)

    def evict(self, pod: dict[str, Any], node: str) -> None:
        if node not in self.tainted:
            return  # the notice was taken back (the benchmark's canary)
        meta = pod["metadata"]
        try:
            self.kube.evict(meta["name"], meta["namespace"], meta.get("uid"))
        except (ApiError, MlkubeError) as exc:
            print(f"evict {meta['name']} failed: {exc}", file=sys.stderr, flush=True)

    def on_node(self, node: dict[str, Any]) -> None:
        name = str(node["metadata"]["name"])
        signal_ = notice(node)
        if signal_ is None:
            self.tainted.discard(name)
            return
        self.tainted.add(name)
        if name in self.done:
            return
        self.done.add(name)
        seen = time.monotonic()
        jobs = self.jobs.get(name, set())
        with self._lock:
            self._pending += len(jobs)
        for job in jobs:
            self.records.submit(self.record, job, name)
        for job in jobs:
            pods = self.pods.get(job, [])
            for i, pod in enumerate(pods):
                self.writes.submit(partial(self.ask, pod), rank=0 if i == 0 else 1)
            for pod in pods:
                if pod["spec"].get("nodeName") == name:
                    at = seen + signal_.window_seconds - grace(pod)
                    at -= EVICTION_MARGIN.total_seconds()
                    self.writes.submit(partial(self.evict, pod, name), rank=0, at=at)

    def run(self) -> None:
        # From the watch cache (resourceVersion 0): any recent state maps pods to jobs.
        self.jobs, self.pods = index(self.kube.list("v1", "Pod", cached=True))
        while True:
            path = self.kube.resource("v1", "Node").path()
            listing = self.kube.request("GET", path, params={"resourceVersion": "0"})
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
    parser.add_argument("--workers", type=int, default=8, help="job-write threads (default 8)")
    parser.add_argument("--record", choices=["job", "configmap"], default="job",
                        help="write the record on the job (default) or as a ConfigMap")  # fmt: skip
    args = parser.parse_args()
    with Kube(load_connection(args.kubeconfig)) as kube:
        count = kube.stats
        signal.signal(signal.SIGUSR1, lambda *_: print(f"requests {count['requests']}", flush=True))
        Floor(kube, args.workers, 2 * args.workers, args.record).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
