"""The spot checkpoint controller at scale, on the local cluster: 1,000 fake nodes with
8 GPUs each, 100 of them reclaimed at once (about 800 training pods). Per affected job,
the time from the node signal (a termination taint: AWS's
``aws-node-termination-handler/spot-itn``, or with ``--signal gke`` GKE's
``cloud.google.com/impending-node-termination``) to (a) the checkpoint request reaching
the job (its ``mlkube.dev/checkpoint-requests`` annotation), (b) the first and (c) the
last of its pods carrying ``mlkube.dev/checkpoint-request``, and (d) how late the last
of its pods on the reclaimed node was evicted, after the time the plan computes
(notice + window − grace − 5 s: 10 s on AWS with a grace of 105 s, at once on GKE).
Plus the API requests the watcher made per reclaimed node.

The peer, run side by side in the same run, is the floor (bench/spot_floor.py): one
watch delivery plus one API write per job, one write per pod and one eviction per pod
at its time, from the same numbers of threads. Trials alternate, mlkube then floor,
on the same jobs, renewed after each trial: each signalled node deleted and made anew
(a notice is keyed by the node's UID, and a job is asked once per notice), its pods
made anew, the records taken off. ``--reclaim`` may name several sizes: each gets its
own alternating trials, in turn, in the same cluster, so 1,000 nodes hold 400 reclaimed.
``--floor-configmap`` adds a third watcher to the turns: the floor with its record a
ConfigMap per job, which passes no admission webhook.

Before each size's trials, ``--ceiling`` (default 16 and 64 in flight) sends the same
writes from a Go client that costs the machine next to nothing (bench/api_ceiling.py):
the time the API server itself needs for them, which no watcher can beat here.

    python bench/spot_scale.py [--nodes 1000] [--trials 4] [--reclaim 100 ...] [--signal aws]
                               [--ceiling 16 64] [--floor-configmap]

Jobs are PyTorchJobs that neither the Training Operator nor Kueue act on
(``spec.runPolicy.managedBy: kueue.x-k8s.io/multikueue``, no queue name); the benchmark
creates their pods itself, 16 single-GPU pods per job over a pair of nodes, bound with
``spec.nodeName``; KWOK runs them. A watcher counts as synced once it has reached a
canary job (its node tainted, then untainted, before the trial). The controller serves
its metrics on 127.0.0.1 so that the report can show its own counters.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import api_ceiling
from bench.spot_floor import FLOOR_ANNOTATION, FLOOR_JOB_LABEL, config_map_record
from mlkube.cluster.client import Kube, NotFound
from mlkube.cluster.kubeconfig import load_connection
from mlkube.controller.jobs import RECORD_ANNOTATION, REQUEST_ANNOTATION
from mlkube.controller.plan import EVICTION_MARGIN
from mlkube.controller.signals import TAINT_SIGNALS
from mlkube.errors import Unreachable
from mlkube.localcluster import cluster
from mlkube.localcluster.nodes import fake_node
from mlkube.localcluster.processes import free_ports
from mlkube.manifests.yamlstream import read_text
from mlkube.spec import Platform, load_specs
from mlkube.spec.models import Pool
from mlkube.wait import WaitTimeout, until

NAME = "bench-spot"
NAMESPACE = "bench"
POOL = "a100-spot"
GPUS = 8  # per node, and pods per node: one GPU each
JOB_API = "kubeflow.org/v1"
JOB_LABEL = "bench.mlkube.dev/job"
MANAGED_BY = "kueue.x-k8s.io/multikueue"  # the Training Operator leaves such jobs alone
WATCH_SLICE = 5  # seconds: the benchmark's own watches end this often, to stop in time
GRACE = 105  # mlkube's rendered terminationGracePeriodSeconds
TAINTS = {
    "aws": "aws-node-termination-handler/spot-itn",
    "gke": "cloud.google.com/impending-node-termination",
}

PLATFORM = """\
apiVersion: mlkube.dev/v1alpha1
kind: Platform
metadata: {{name: bench-spot}}
spec:
  pools:
    - name: {pool}
      gpu: {{model: NVIDIA-A100-SXM4-80GB, count: {gpus}}}
      nodes: {nodes}
      zones: [a, b, c]
      capacity: spot
      provider: aws
      cpu: "96"
      memory: 1152Gi
"""


def node(i: int) -> str:
    return f"{POOL}-{i}"


def job(j: int) -> str:
    return f"job-{j:04d}"


def quiet(_message: str) -> None:
    pass


def pytorchjob(name: str) -> dict[str, Any]:
    def replicas(count: int) -> dict[str, Any]:
        container = {
            "name": "pytorch",
            "image": "bench/train:1",
            "resources": {"limits": {"nvidia.com/gpu": "1"}},
        }
        return {
            "replicas": count,
            "restartPolicy": "OnFailure",
            "template": {"spec": {"containers": [container]}},
        }

    return {
        "apiVersion": JOB_API,
        "kind": "PyTorchJob",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {JOB_LABEL: name}},
        "spec": {
            "runPolicy": {"managedBy": MANAGED_BY},
            "pytorchReplicaSpecs": {"Master": replicas(1), "Worker": replicas(2 * GPUS - 1)},
        },
    }


def pod(owner: dict[str, Any], index: int, node_name: str, generation: int = 0) -> dict[str, Any]:
    name = owner["metadata"]["name"]
    suffix = f"-g{generation}" if generation else ""
    gpu = {"nvidia.com/gpu": "1"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-{index:02d}{suffix}",
            "namespace": NAMESPACE,
            "labels": {JOB_LABEL: name},
            "ownerReferences": [
                {
                    "apiVersion": JOB_API,
                    "kind": "PyTorchJob",
                    "name": name,
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "nodeName": node_name,
            "terminationGracePeriodSeconds": GRACE,
            "restartPolicy": "OnFailure",
            "containers": [
                {
                    "name": "pytorch",
                    "image": "bench/train:1",
                    "resources": {"requests": gpu, "limits": gpu},
                }
            ],
        },
    }


def parallel(fn: Callable[[Any], Any], items: Iterable[Any], threads: int = 8) -> list[Any]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def again(fn: Callable[[Any], Any], tries: int = 3) -> Callable[[Any], Any]:
    """``fn``, tried again when the connection failed: the setup's idempotent writes
    (a TLS record error was seen once, mid-run, between two trials)."""

    def run(item: Any) -> Any:
        for attempt in range(tries):
            try:
                return fn(item)
            except Unreachable as exc:
                if attempt == tries - 1:
                    raise
                print(f"  again after: {exc}", flush=True)
        raise AssertionError("unreachable")

    return run


def webhooks(kube: Kube) -> list[str]:
    """The admission webhook configurations every job write passes: Kueue's and the
    Training Operator's, as on a real cluster. (Until 2026-12-07 the Training
    Operator's, JobSet's and Trainer's were removed here: their servers read one
    certificate directory that every local cluster on the machine shared, and another
    cluster overwrote it mid-run. Each cluster now has its own.)"""
    return [
        config["metadata"]["name"]
        for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
        for config in kube.list("admissionregistration.k8s.io/v1", kind)
    ]


def populate(kube: Kube, jobs: int) -> None:
    """``jobs`` PyTorchJobs, job j with 8 pods on node 2j and 8 on node 2j + 1."""
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    owners = parallel(lambda j: kube.create(pytorchjob(job(j))), range(jobs))
    time.sleep(5)  # give the Training Operator and Kueue time to (not) act
    made = kube.list("v1", "Pod", NAMESPACE)
    if made:
        raise SystemExit(f"the Training Operator made {len(made)} pods: managedBy was ignored")
    workloads = kube.list("kueue.x-k8s.io/v1beta2", "Workload", NAMESPACE)
    if workloads:
        raise SystemExit(f"Kueue made {len(workloads)} Workloads for jobs without a queue")
    pods = [
        pod(owner, k, node(2 * j + k // GPUS))
        for j, owner in enumerate(owners)
        for k in range(2 * GPUS)
    ]
    parallel(kube.create, pods)


def renew(kube: Kube, first: int, count: int, *, generation: int, pool: Pool, total: int) -> float:
    """Jobs [first, first + count) as they were before a trial, so that the next trial
    (of any watcher) can use them: each signalled node deleted and created again (a new
    UID: a new notice, not one already answered; no cordon, no taint), its pods made
    anew under new names, and the records taken off the jobs and the surviving pods.
    Seconds it took."""
    started = time.monotonic()
    indices = {2 * j for j in range(first, first + count)}
    names = {node(i) for i in indices}
    pods = kube.list("v1", "Pod", NAMESPACE)
    zero = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}

    def delete_now(p: dict[str, Any]) -> None:
        path = kube.resource("v1", "Pod").path(NAMESPACE, p["metadata"]["name"])
        with contextlib.suppress(NotFound):
            kube.request("DELETE", path, json=zero)

    parallel(again(delete_now), [p for p in pods if p["spec"].get("nodeName") in names])

    def remake(i: int) -> None:
        kube.delete("v1", "Node", node(i))
        shape = fake_node(pool, i)
        status = shape.pop("status")
        kube.patch_status(kube.create(shape), status)

    parallel(again(remake), sorted(indices))
    cluster.wait_nodes_ready(kube, names)
    jobs = {job(j) for j in range(first, first + count)}
    unmark = {"metadata": {"annotations": {RECORD_ANNOTATION: None, FLOOR_ANNOTATION: None}}}
    records = kube.list("v1", "ConfigMap", NAMESPACE, FLOOR_JOB_LABEL)
    parallel(again(lambda c: kube.delete("v1", "ConfigMap", c["metadata"]["name"], NAMESPACE)),
             records)  # fmt: skip
    owners = parallel(again(lambda n: kube.patch(JOB_API, "PyTorchJob", n, unmark, NAMESPACE)),
                      sorted(jobs))  # fmt: skip
    asked = [
        p["metadata"]["name"] for p in pods
        if p["spec"].get("nodeName") not in names
        and p["metadata"]["labels"].get(JOB_LABEL) in jobs
        and REQUEST_ANNOTATION in (p["metadata"].get("annotations") or {})
    ]  # fmt: skip
    unask = {"metadata": {"annotations": {REQUEST_ANNOTATION: None}}}
    parallel(again(lambda n: kube.patch("v1", "Pod", n, unask, NAMESPACE)), asked)
    parallel(again(kube.create), [
        pod(owner, k, node(2 * (first + j)), generation)
        for j, owner in enumerate(owners)
        for k in range(GPUS)
    ])  # fmt: skip
    # Every pod there now, not ``total``: on GKE's signal the watchers evict the
    # canaries' pods at once, and those jobs are not renewed.
    wait_running(kube, min(total, len(kube.list("v1", "Pod", NAMESPACE))), timeout=600)
    return time.monotonic() - started


def wait_running(kube: Kube, total: int, timeout: float) -> int:
    """How many pods run, once ``total`` do or ``timeout`` has passed."""
    seen = 0

    def all_running() -> int | None:
        nonlocal seen
        pods = kube.list("v1", "Pod", NAMESPACE, cached=True)
        seen = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
        return seen if seen >= total else None

    try:
        return until(f"{total} pods running", all_running, timeout=timeout, every=2)
    except WaitTimeout:
        return seen


# the benchmark's own view: when each record and delivery arrives ----------------------


class Recorder:
    """Watches PyTorchJobs and Pods in the namespace and timestamps, on arrival, the
    first event that shows a job's record (or the floor's marker) and a pod's delivery."""

    def __init__(self, kubeconfig: str, annotation: str) -> None:
        self.kube = Kube(load_connection(kubeconfig))
        self.annotation = annotation
        self.jobs: dict[str, float] = {}
        self.pods: dict[str, tuple[str, float]] = {}  # pod → (job, arrival)
        self.evicted: dict[str, tuple[str, float]] = {}  # pod → (job, arrival)
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def start(self) -> None:
        for api, kind, handler in (
            (JOB_API, "PyTorchJob", self._on_job),
            ("v1", "Pod", self._on_pod),
            ("v1", "ConfigMap", self._on_config_map),  # the floor's other record
        ):
            path = self.kube.resource(api, kind).path(NAMESPACE)
            head = self.kube.request("GET", path, params={"limit": "1"})
            version = str(head["metadata"]["resourceVersion"])
            args = (api, kind, version, handler)
            thread = threading.Thread(target=self._run, args=args, daemon=True)
            thread.start()
            self.threads.append(thread)
        time.sleep(1.0)  # the watches are open

    def _run(
        self, api: str, kind: str, version: str, handler: Callable[[dict[str, Any], float], None]
    ) -> None:
        """Short watches, one after the other from the last version seen, so that the
        thread sees ``stopped`` within seconds and ends before the client is closed:
        closing it under a thread still reading lets that thread's TLS object read from
        the socket number a new connection got (OpenSSL keeps the number), which broke
        the next trial's requests with DECRYPTION_FAILED_OR_BAD_RECORD_MAC."""
        try:
            while not self.stopped.is_set():
                for event in self.kube.watch(api, kind, NAMESPACE, resource_version=version,
                                             timeout_seconds=WATCH_SLICE):  # fmt: skip
                    arrived = time.monotonic()
                    if self.stopped.is_set():
                        return
                    obj = event.get("object") or {}
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        handler(obj, arrived)
        except Exception as exc:  # the stream broke
            if not self.stopped.is_set():
                self.errors.append(f"{kind} watch: {exc}")

    def _on_job(self, obj: dict[str, Any], arrived: float) -> None:
        meta = obj.get("metadata") or {}
        if self.annotation in (meta.get("annotations") or {}):
            self.jobs.setdefault(str(meta.get("name")), arrived)

    def _on_config_map(self, obj: dict[str, Any], arrived: float) -> None:
        meta = obj.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(FLOOR_JOB_LABEL)
        if owner and self.annotation in (meta.get("annotations") or {}):
            self.jobs.setdefault(str(owner), arrived)

    def _on_pod(self, obj: dict[str, Any], arrived: float) -> None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name"))
        job_name = str((meta.get("labels") or {}).get(JOB_LABEL))
        if REQUEST_ANNOTATION in (meta.get("annotations") or {}) and name not in self.pods:
            self.pods[name] = (job_name, arrived)
        if meta.get("deletionTimestamp") and name not in self.evicted:
            self.evicted[name] = (job_name, arrived)

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(WATCH_SLICE + 15)
        self.kube.close()


# the watcher under test -------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_settled(proc: subprocess.Popen[bytes], first: float = 3.0, timeout: float = 300) -> None:
    """Until the process has gone quiet: under 10 % of a core over two seconds. Not 5 %
    per half second, as it was: at 1,000 nodes KWOK's heartbeats alone keep a watcher
    of Nodes at 4 to 7 % of a core (decoding them), in bursts, and the floor then waited
    out both 300 s timeouts before each of its trials."""
    started = time.monotonic()
    time.sleep(first)
    window: list[float] = []  # CPU seconds in each of the last four half seconds
    last = cpu_seconds(proc.pid)
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"watcher exited with {proc.returncode} while starting")
        time.sleep(0.5)
        now = cpu_seconds(proc.pid)
        window = [*window[-3:], now - last]
        last = now
        if len(window) == 4 and sum(window) < 0.2:
            return


def start_watcher(kind: str, setup: Setup, log: Path, metrics_port: int) -> subprocess.Popen[bytes]:
    threads = ["--workers", str(setup.workers)]  # and twice as many writer threads
    if kind == "mlkube":
        exe = Path(sys.executable).with_name("mlkube")
        argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "mlkube"]
        argv += ["controller", "run", "--kubeconfig", setup.kubeconfig, "--no-leader-elect",
                 "--metrics-bind-address", f"127.0.0.1:{metrics_port}", *threads]  # fmt: skip
    else:
        floor = Path(__file__).with_name("spot_floor.py")
        record = "configmap" if kind == "floor-configmap" else "job"
        argv = [sys.executable, str(floor), "--kubeconfig", setup.kubeconfig, *threads,
                "--record", record]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def stop_watcher(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()  # SIGTERM, to this pid only
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def scrape(port: int) -> dict[str, float]:
    """The controller's own counters (summed over labels), its request-latency
    histogram (``latency_le_<bound>``) and its garbage collections by generation
    (``gc<generation>_count``, ``gc<generation>_sum``)."""
    out: dict[str, float] = {}
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("mlkube_") and " " in line:
            name, value = line.rsplit(" ", 1)
            if name.startswith("mlkube_gc_pause_seconds"):
                metric = name.split("{")[0].rsplit("_", 1)[1]  # count, sum, bucket
                if metric not in ("count", "sum"):
                    continue
                generation = name.split('generation="')[1].split('"')[0]
                key = f"gc{generation}_{metric}"
            elif name.startswith("mlkube_request_latency_seconds_bucket{"):
                key = "latency_le_" + name.split('le="')[1].rstrip('"}')
            else:
                key = name.split("{")[0]
            out[key] = out.get(key, 0.0) + float(value)
    return out


def requests_made(kind: str, proc: subprocess.Popen[bytes], log: Path, port: int) -> float:
    """The API requests the watcher has made so far: the controller's metric, or the
    floor's answer to SIGUSR1 (the last line of its log that says so)."""
    if kind == "mlkube":
        return scrape(port).get("mlkube_api_requests", math.nan)
    before = log.read_text().count("requests ")
    proc.send_signal(signal.SIGUSR1)  # to this pid only
    try:
        until("the floor's request count",
              lambda: log.read_text().count("requests ") > before or None, timeout=10)  # fmt: skip
    except WaitTimeout:
        return math.nan
    last = [line for line in log.read_text().splitlines() if line.startswith("requests ")][-1]
    return float(last.split()[1])


# one trial ---------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    """Nearest rank: with 100 values, p99 is the second largest."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


FIGURES = {
    "a": "(a) request on the job",
    "b": "(b) first pod asked",
    "c": "(c) every pod asked",
    "d": "(d) evictions, after their time",
}


@dataclass
class Trial:
    kind: str
    index: int
    jobs: int
    settle: float = 0.0  # watcher start until its canary was reached
    spread: float = 0.0  # first to last signal PATCH returned
    window: float = 0.0  # first signal until every job, pod and eviction was seen, or timeout
    cpu: float = 0.0  # CPU seconds the watcher used in that window
    load: float = 0.0  # 1-minute load average at the end
    requests: float = math.nan  # API requests the watcher made in that window
    # per job, seconds: a: signal → record on the job; b, c: signal → first / every pod
    # asked; d: the planned eviction time → the last of its pods on the node evicted
    figures: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in FIGURES})
    missing: int = 0  # jobs never reached within the timeout
    undelivered: int = 0  # jobs with a pod never asked
    unevicted: int = 0  # jobs with a pod on the reclaimed node never evicted
    deliveries_before_last_record: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    gc: dict[str, float] = field(default_factory=dict)  # the controller's, in the window
    errors: list[str] = field(default_factory=list)


def taint(kube: Kube, names: list[str], key: str) -> dict[str, float]:
    """Taint every node at once, from a thread pool; when each PATCH returned."""
    body = {"spec": {"taints": [{"key": key, "value": "bench", "effect": "NoSchedule"}]}}

    def one(name: str) -> tuple[str, float]:
        kube.patch("v1", "Node", name, body)
        return name, time.monotonic()

    return dict(parallel(one, names, threads=min(len(names), 50)))


def untaint(kube: Kube, names: list[str]) -> None:
    parallel(lambda n: kube.patch("v1", "Node", n, {"spec": {"taints": None}}), names)


def gone(kube: Kube) -> None:
    """Delete at once the pods evicted in a trial (their 105 s grace would outlast it),
    as the reclaimed nodes would: a later watcher must not find them still terminating,
    with a DisruptionTarget on a node whose notice was taken back (a notice of its own)."""
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
    pods = kube.list("v1", "Pod", NAMESPACE)
    leaving = [p for p in pods if p["metadata"].get("deletionTimestamp")]

    def delete(pod: dict[str, Any]) -> None:
        path = kube.resource("v1", "Pod").path(NAMESPACE, pod["metadata"]["name"])
        with contextlib.suppress(NotFound):
            kube.request("DELETE", path, json=body)

    parallel(delete, leaving)


@dataclass(frozen=True)
class Setup:
    kubeconfig: str
    trials: int
    reclaim: list[int]
    workers: int
    timeout: float
    logs: Path
    signal: str
    py_spy: str | None = None  # py-spy's binary: sample each watcher in its window
    ceiling: tuple[int, ...] = ()  # concurrencies of the Go client's ceiling runs
    # The watchers, in the order the trials take turns: "mlkube", "floor" (its record a
    # PATCH of the job) and, when asked for, "floor-configmap" (a ConfigMap per job).
    kinds: tuple[str, ...] = ("mlkube", "floor")

    @property
    def taint(self) -> str:
        return TAINTS[self.signal]

    @property
    def evict_after(self) -> float:
        """When the plan evicts, after the notice: window − grace − margin, or at once."""
        window = TAINT_SIGNALS[self.taint].window_seconds
        return max(0.0, window - GRACE - EVICTION_MARGIN.total_seconds())

    @property
    def canaries(self) -> int:
        """The first job index after the trials' jobs (every trial reuses the first
        ones, renewed): the canaries', one job per trial."""
        return max(self.reclaim)


def annotation_of(kind: str) -> str:
    """What marks a job as reached: the controller's record, or the floor's marker."""
    return RECORD_ANNOTATION if kind == "mlkube" else FLOOR_ANNOTATION


def wait_synced(
    kube: Kube, proc: subprocess.Popen[bytes], canary: int, kind: str, *, setup: Setup,
    timeout: float = 300,
) -> float:  # fmt: skip
    """Until the watcher has synced: a quiet process is not proof (it may be waiting on
    a list of 8,000 pods), so signal a canary node, wait for its job to be reached,
    take the signal back and let the watcher finish with it. Seconds from start."""
    started = time.monotonic()
    wait_settled(proc)
    taint(kube, [node(2 * canary)], setup.taint)

    def reached() -> bool | None:
        if proc.poll() is not None:
            raise SystemExit(f"the watcher exited before the canary {job(canary)}")
        if kind == "floor-configmap":
            obj = kube.get("v1", "ConfigMap", config_map_record(job(canary)), NAMESPACE) or {}
        else:
            obj = kube.get(JOB_API, "PyTorchJob", job(canary), NAMESPACE) or {}
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        return True if annotation_of(kind) in annotations else None

    try:
        until(f"the canary {job(canary)}", reached, timeout=timeout, every=0.5)
    except WaitTimeout:
        raise SystemExit(f"the watcher never reached the canary {job(canary)}") from None
    synced = time.monotonic() - started
    untaint(kube, [node(2 * canary)])
    wait_settled(proc, first=1.0)
    return synced


def run_trial(
    kube: Kube, kind: str, index: int, first: int, *, reclaim: int, setup: Setup
) -> Trial:
    """Trial ``index`` uses jobs [first, first + reclaim) and signals the first node of
    each job's pair; its canary is a job after all the trials' jobs."""
    jobs = [job(j) for j in range(first, first + reclaim)]
    signalled = {job(j): node(2 * j) for j in range(first, first + reclaim)}
    annotation = annotation_of(kind)
    result = Trial(kind, index, len(jobs))
    (port,) = free_ports(1)
    log = setup.logs / f"{index}-{kind}.log"
    proc = start_watcher(kind, setup, log, port)
    recorder = Recorder(setup.kubeconfig, annotation)
    try:
        result.settle = wait_synced(kube, proc, setup.canaries + index, kind, setup=setup)
        recorder.start()
        cpu = cpu_seconds(proc.pid)
        requests = requests_made(kind, proc, log, port)
        before = scrape(port) if kind == "mlkube" else {}
        sampler = None
        if setup.py_spy:  # collapsed stacks of the thread holding the GIL: its CPU
            out = setup.logs / f"{index}-{kind}.stacks"
            argv = [setup.py_spy, "record", "--pid", str(proc.pid), "--rate", "50", "--format",
                    "raw", "--output", str(out), "--nonblocking", "--threads", "--gil"]  # fmt: skip
            quiet_out = subprocess.DEVNULL
            sampler = subprocess.Popen(argv, stdout=quiet_out, stderr=quiet_out)
        signalled_at = taint(kube, list(signalled.values()), setup.taint)
        result.spread = max(signalled_at.values()) - min(signalled_at.values())
        deadline = time.monotonic() + setup.timeout
        target = len(jobs) * 2 * GPUS
        while time.monotonic() < deadline:
            reached = sum(1 for j in jobs if j in recorder.jobs)
            # A pod evicted before it was asked never will be (its SIGTERM is the
            # runtime's other trigger): done, for the window.
            settled = len(recorder.pods.keys() | recorder.evicted.keys())
            if reached == len(jobs) and settled >= target \
                    and len(recorder.evicted) >= target // 2:  # fmt: skip
                break
            time.sleep(0.1)
        result.window = time.monotonic() - min(signalled_at.values())
        if sampler is not None:
            sampler.send_signal(signal.SIGINT)  # to this pid only: it writes and exits
            sampler.wait(60)
        result.cpu = cpu_seconds(proc.pid) - cpu
        result.requests = requests_made(kind, proc, log, port) - requests
        if kind == "mlkube":
            result.metrics = scrape(port)
            result.gc = {k: v - before.get(k, 0.0) for k, v in result.metrics.items()
                         if k.startswith("gc")}  # fmt: skip
    finally:
        recorder.stop()
        stop_watcher(proc)
        untaint(kube, list(signalled.values()))  # so later watchers see no old notice
        gone(kube)
    analyse(result, signalled, signalled_at, recorder, setup.evict_after)
    return result


def analyse(result: Trial, signalled: dict[str, str], at: dict[str, float],
            recorder: Recorder, evict_after: float) -> None:  # fmt: skip
    """Per job: from its node's signal to the first event showing each step."""
    f = result.figures
    for name, node_name in signalled.items():
        start = at[node_name]
        if name in recorder.jobs:
            f["a"].append(recorder.jobs[name] - start)
        else:
            result.missing += 1
        arrivals = [t for j, t in recorder.pods.values() if j == name]
        if arrivals:
            f["b"].append(min(arrivals) - start)
        if len(arrivals) == 2 * GPUS:
            f["c"].append(max(arrivals) - start)
        else:
            result.undelivered += 1
        evicted = [t for j, t in recorder.evicted.values() if j == name]
        if len(evicted) == GPUS:
            f["d"].append(max(evicted) - start - evict_after)
        else:
            result.unevicted += 1
    if recorder.jobs:
        last = max(recorder.jobs.values())
        result.deliveries_before_last_record = sum(1 for _, t in recorder.pods.values() if t < last)
    result.errors = recorder.errors


# report ------------------------------------------------------------------------------


def ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value * 1000:,.0f}"


def stats(values: list[float]) -> str:
    return " / ".join(ms(quantile(values, q)) for q in (0.0, 0.5, 0.99, 1.0))


def ratio(ours: list[float], floor: list[float], q: float) -> str:
    a, b = quantile(ours, q), quantile(floor, q)
    if math.isnan(a) or math.isnan(b) or b <= 0:
        return "–"
    return f"{a / b:.2f}×"


def report(trials: list[Trial], reclaim: int) -> None:
    print(f"\n{reclaim} nodes reclaimed: latency from each node's signal, ms: "
          "min / p50 / p99 / max\n")  # fmt: skip
    print("| trial | watcher | jobs reached | " + " | ".join(FIGURES.values())
          + " | requests / node | signal spread | window | watcher CPU | load |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    for t in trials:
        reached = t.jobs - t.missing
        cells = " | ".join(stats(t.figures[k]) for k in FIGURES)
        print(f"| {t.index + 1} | {t.kind} | {reached}/{t.jobs} | {cells} | "
              f"{t.requests / t.jobs:.1f} | {ms(t.spread)} ms | {t.window:.1f} s | "
              f"{t.cpu:.1f} s | {t.load:.1f} |")  # fmt: skip
    pooled: dict[str, dict[str, list[float]]] = {}
    requests: dict[str, list[float]] = {}
    for t in trials:
        into = pooled.setdefault(t.kind, {k: [] for k in FIGURES})
        for k in FIGURES:
            into[k] += t.figures[k]
        requests.setdefault(t.kind, []).append(t.requests / t.jobs)
    for kind, values in pooled.items():
        cells = " | ".join(stats(values[k]) for k in FIGURES)
        per_node = sum(requests[kind]) / len(requests[kind])
        print(f"| all | {kind} | {len(values['a'])} | {cells} | {per_node:.1f} | | | | |")
    for peer in (k for k in pooled if k.startswith("floor")):
        ours, floor = pooled.get("mlkube"), pooled[peer]
        if ours is None:
            continue
        print(f"\nmlkube / {peer}, p50 / p99 / max:")
        for k, label in FIGURES.items():
            cells = " / ".join(ratio(ours[k], floor[k], q) for q in (0.5, 0.99, 1.0))
            print(f"  {label}: {cells}")
        a99 = quantile(ours["a"], 0.99)
        print(
            f"  (a) mlkube p99 {ms(a99)} ms; (c) p99 {ms(quantile(ours['c'], 0.99))} ms "
            f"(goal ≤ 5,000); (d) p99 {ms(quantile(ours['d'], 0.99))} ms (goal ≤ 2,000)"
        )
    for t in trials:
        print(
            f"trial {t.index + 1} ({t.kind}): synced (canary reached) {t.settle:.1f} s after "
            f"start; jobs not fully asked {t.undelivered}, not fully evicted {t.unevicted}"
        )
        if t.kind == "mlkube":
            m = t.metrics
            count = m.get("mlkube_request_latency_seconds_count", 0.0)
            mean = m.get("mlkube_request_latency_seconds_sum", 0.0) / count if count else math.nan
            counts = ", ".join(
                f"{label} {m.get(f'mlkube_{metric}_total', 0):.0f}"
                for label, metric in (("requests", "checkpoint_requests"),
                                      ("deliveries", "checkpoint_deliveries"),
                                      ("cordons", "cordons"), ("evictions", "evictions"),
                                      ("conflicts", "record_conflicts"),
                                      ("errors", "reconcile_errors"))
            )  # fmt: skip
            print(f"  controller (canary included): {counts}; its own notice→record mean "
                  f"{ms(mean)} ms, ≤1 s {m.get('latency_le_1.0', 0):.0f}/{count:.0f}; "
                  f"{t.deliveries_before_last_record} pod deliveries arrived before the last "
                  f"record")  # fmt: skip
            if t.gc:
                collections = ", ".join(
                    f"generation {g}: {t.gc.get(f'gc{g}_count', 0):.0f} in "
                    f"{ms(t.gc.get(f'gc{g}_sum', 0.0))} ms" for g in (0, 1, 2)
                )  # fmt: skip
                print(f"  its garbage collections in the window: {collections}")
        for error in t.errors:
            print(f"  {error}")


def probe(kube: Kube, name: str, rounds: int = 20) -> str:
    """Median round trips on an idle cluster: GET a job, merge-PATCH it (three admission
    webhooks), merge-PATCH one of its pods, and merge-PATCH a ConfigMap (no webhook: the
    cost of a record that passes none, issue 11's first idea)."""

    def timed(fn: Callable[[], Any]) -> float:
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
        return quantile(samples, 0.5)

    mark = {"metadata": {"annotations": {"bench.mlkube.dev/probe": str(time.time())}}}
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "probe", "namespace": NAMESPACE}}  # fmt: skip
    kube.apply(config)
    get = timed(lambda: kube.get(JOB_API, "PyTorchJob", name, NAMESPACE))
    patch = timed(lambda: kube.patch(JOB_API, "PyTorchJob", name, mark, NAMESPACE))
    pod_patch = timed(lambda: kube.patch("v1", "Pod", f"{name}-00", mark, NAMESPACE))
    map_patch = timed(lambda: kube.patch("v1", "ConfigMap", "probe", mark, NAMESPACE))
    return (f"idle round trips (median of {rounds}): GET job {ms(get)} ms, PATCH job "
            f"{ms(patch)} ms, PATCH pod {ms(pod_patch)} ms, PATCH ConfigMap "
            f"{ms(map_patch)} ms")  # fmt: skip


def ceiling(kube: Kube, setup: Setup, size: int, concurrency: int) -> str:
    """A trial's writes with nothing else to do: every pod of jobs [0, size) annotated,
    then every pod on their signalled nodes evicted, by the Go client of
    bench/api_ceiling.py from ``concurrency`` connections, while the benchmark's own
    watches run as in a trial. No watcher can ask or evict faster on this machine."""
    jobs = {job(j): node(2 * j) for j in range(size)}
    pods = [
        p for p in kube.list("v1", "Pod", NAMESPACE, cached=True)
        if p["metadata"]["labels"].get(JOB_LABEL) in jobs
        and not p["metadata"].get("deletionTimestamp")
    ]  # fmt: skip
    ask = {REQUEST_ANNOTATION: "ceiling"}
    patches = [api_ceiling.pod_patch(NAMESPACE, p["metadata"]["name"], ask) for p in pods]
    evictions = [
        api_ceiling.eviction(NAMESPACE, p["metadata"]["name"]) for p in pods
        if p["spec"].get("nodeName") == jobs[p["metadata"]["labels"][JOB_LABEL]]
    ]  # fmt: skip
    recorder = Recorder(setup.kubeconfig, RECORD_ANNOTATION)
    recorder.start()
    try:
        asked = api_ceiling.run(setup.kubeconfig, patches, concurrency)
        evicted = api_ceiling.run(setup.kubeconfig, evictions, concurrency)
    finally:
        recorder.stop()
    gone(kube)

    def line(what: str, r: dict[str, Any]) -> str:
        errors = f", {r['errors']} errors ({r.get('firstError')})" if r["errors"] else ""
        return (f"{r['requests']} {what} in {r['seconds']:.2f} s ({r['perSecond']:.0f}/s, "
                f"latency p50 {r['p50Ms']:.0f} / p99 {r['p99Ms']:.0f} ms){errors}")  # fmt: skip

    return (f"ceiling ({size} nodes, Go client, {concurrency} at once, load average "
            f"{os.getloadavg()[0]:.2f}): {line('pod PATCHes', asked)}; "
            f"{line('evictions', evicted)}")  # fmt: skip


def run_sizes(kube: Kube, setup: Setup, pool: Pool, total: int) -> None:
    """Each size's trials in turn, alternating mlkube and the floor on the same jobs,
    renewed after each trial; a size's report as soon as its trials are done."""
    by_size: dict[int, list[Trial]] = {}
    last = len(setup.reclaim) * setup.trials - 1
    index = 0
    for size in setup.reclaim:
        for k, concurrency in enumerate(setup.ceiling):
            print(ceiling(kube, setup, size, concurrency), flush=True)
            generation = 1000 + 10 * size + k  # pod names of their own
            took = renew(kube, 0, size, generation=generation, pool=pool, total=total)
            print(f"  {size} jobs renewed in {took:.1f} s", flush=True)
        for n in range(setup.trials):
            kind = setup.kinds[n % len(setup.kinds)]
            trial = run_trial(kube, kind, index, 0, reclaim=size, setup=setup)
            trial.load = os.getloadavg()[0]
            by_size.setdefault(size, []).append(trial)
            print(f"trial {index + 1} ({kind}, {size} nodes): (a) p50 "
                  f"{ms(quantile(trial.figures['a'], 0.5))} ms, p99 "
                  f"{ms(quantile(trial.figures['a'], 0.99))} ms; (c) p99 "
                  f"{ms(quantile(trial.figures['c'], 0.99))} ms; (d) p99 "
                  f"{ms(quantile(trial.figures['d'], 0.99))} ms; load average "
                  f"{os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
            if index < last:
                took = renew(kube, 0, size, generation=index + 1, pool=pool, total=total)
                print(f"  {size} jobs renewed in {took:.1f} s; load average "
                      f"{os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
            index += 1
        report(by_size[size], size)
        sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000, help="spot nodes (default 1000)")
    parser.add_argument("--trials", type=int, default=4, help="per size, alternating, mlkube first")
    parser.add_argument("--reclaim", type=int, nargs="+", default=[100],
                        help="nodes reclaimed per trial; several sizes run in turn")  # fmt: skip
    parser.add_argument("--workers", type=int, default=8, help="worker threads of both")
    parser.add_argument("--signal", choices=sorted(TAINTS), default="aws")
    parser.add_argument("--timeout", type=float, default=180, help="per trial (s)")
    parser.add_argument("--py-spy", help="py-spy's binary: sample each watcher in its window")
    parser.add_argument("--ceiling", type=int, nargs="*", default=[16, 64],
                        help="before each size's trials, its writes from a Go client at these "
                             "concurrencies (default 16 64; none to skip)")  # fmt: skip
    parser.add_argument("--floor-configmap", action="store_true",
                        help="a third watcher in the turns: the floor with its record a "
                             "ConfigMap per job, which passes no admission webhook")  # fmt: skip
    args = parser.parse_args()
    needed = 2 * max(args.reclaim) + 2 * args.trials * len(args.reclaim)
    if needed > args.nodes:
        parser.error(f"the trials share 2 × the largest --reclaim nodes (renewed after each "
                     f"trial) and each has a canary's 2: {needed} nodes")  # fmt: skip
    kinds = ("mlkube", "floor", "floor-configmap") if args.floor_configmap else ("mlkube", "floor")
    started = time.monotonic()
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    (platform,) = load_specs(
        read_text(PLATFORM.format(pool=POOL, gpus=GPUS, nodes=args.nodes), "bench.yaml")
    )
    cluster.down(NAME, quiet)
    logs = Path(tempfile.mkdtemp(prefix="spot-scale-"))
    try:
        up_started = time.monotonic()
        cluster.up(NAME, platform, lambda m: print(f"  {m}", flush=True))
        print(f"cluster up, {args.nodes} nodes Ready: {time.monotonic() - up_started:.1f} s",
              flush=True)  # fmt: skip
        kubeconfig = str(cluster.kubeconfig_path(NAME))
        with Kube(load_connection(kubeconfig)) as kube:
            print(f"webhook configurations: {webhooks(kube)}", flush=True)
            jobs = args.nodes // 2
            populate_started = time.monotonic()
            populate(kube, jobs)
            total = jobs * 2 * GPUS
            running = wait_running(kube, total, timeout=600)
            print(f"{jobs} jobs, {running}/{total} pods Running "
                  f"({time.monotonic() - populate_started:.1f} s); "
                  f"all pods in the cluster: {len(kube.list('v1', 'Pod', cached=True))}",
                  flush=True)  # fmt: skip
            print(probe(kube, job(jobs - 1)), flush=True)
            setup = Setup(kubeconfig, args.trials, args.reclaim, args.workers,
                          args.timeout, logs, args.signal, args.py_spy,
                          tuple(args.ceiling), kinds)  # fmt: skip
            pool = platform.spec.spec.pools[0] if isinstance(platform.spec, Platform) else None
            assert pool is not None
            run_sizes(kube, setup, pool, total)
        print(f"\nwatcher logs: {logs}; whole run {time.monotonic() - started:.0f} s")
    finally:
        cluster.down(NAME, quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
