"""``mlkube cluster up | down | status``: start, stop and inspect a local cluster.

State lives in ``<cache>/clusters/<name>/state.json``: the ports and, for each
process, its pid and binary, so that ``down`` stops exactly what ``up`` started.

A name is a DNS label, so it can never step out of ``<cache>/clusters``; and ``up``
writes a marker file (``MARKER``) into the directory before anything else, so that
``down`` removes only a directory ``up`` made, never one that merely has the name.
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.auth import tls_context
from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.crds import load_crds
from mlkube.errors import MlkubeError, UsageError
from mlkube.fileio import reason, write_atomic
from mlkube.localcluster import (
    components,
    controllers,
    metrics_pipeline,
    processes,
    resource_metrics,
    serving,
)
from mlkube.localcluster.binaries import (
    CLUSTER,
    CPU_METRICS,
    GPU_METRICS,
    SERVING,
    Binaries,
    cache_root,
    ensure,
)
from mlkube.localcluster.components import PORT_NAMES, Layout
from mlkube.localcluster.nodes import platform_nodes
from mlkube.localcluster.pki import Pki
from mlkube.localcluster.pki import ensure as ensure_pki
from mlkube.localcluster.stages import stages
from mlkube.manifests.objects import condition
from mlkube.render import render_specs
from mlkube.spec import Platform, SpecFile
from mlkube.wait import WaitTimeout, until, until_complete

Progress = Callable[[str], None]
PKI_FORMAT = "rsa-v3"  # a new name when the PKI's format changes: old ones are not reused
# Namespaces that the GPU Operator, Prometheus and the ML controllers' installs create
# on a real cluster, and that rendered bundles refer to.
INFRASTRUCTURE_NAMESPACES = (
    "gpu-operator", "monitoring", "kubeflow", "kubeflow-system", "jobset-system", "kueue-system",
)  # fmt: skip
# What `up` writes first into a cluster's directory, and `down` requires before removing it.
MARKER = ".mlkube-cluster"
# Node creation: requests in flight at once; and how long the nodes may go without
# one more turning Ready before `up` gives up.
NODE_WRITERS = 8
NODES_STALL = 120.0
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")  # a DNS label (RFC 1123)


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@dataclass
class State:
    name: str
    ports: dict[str, int]
    processes: dict[str, tuple[int, str]] = field(default_factory=dict)  # name → (pid, binary)
    platform: str | None = None

    @property
    def serving(self) -> bool:
        """KServe's controller runs (`up --serving`)."""
        return "kserve" in self.processes

    @property
    def gpu_metrics(self) -> bool:
        """The GPU metrics pipeline runs (`up --gpu-metrics`)."""
        return "prometheus-adapter" in self.processes

    @property
    def cpu_metrics(self) -> bool:
        """metrics-server runs, on KWOK's resource usage (`up --cpu-metrics`)."""
        return "metrics-server" in self.processes

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            data = json.loads(path.read_text())
            data["processes"] = {k: (int(p), str(b)) for k, (p, b) in data["processes"].items()}
            data.pop("serving", None)  # saved by earlier versions; now read from processes
            state = cls(**data)
            if not isinstance(state.ports, dict):
                raise TypeError("ports is not a mapping")
        except OSError as exc:
            raise UsageError(f"{path}: cannot read: {reason(exc)}") from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UsageError(
                f"{path}: not a state file written by `mlkube cluster up` ({exc}); stop the "
                "processes it started and remove its directory by hand"
            ) from None
        return state


def check_name(name: str) -> str:
    """``name`` if it is a DNS label (as kind's cluster names are), else a UsageError."""
    if not _NAME.match(name):
        raise UsageError(
            f"--name {name!r}: a cluster name is 1 to 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return name


def cluster_root(name: str) -> Path:
    """The cluster's directory, checked to lie inside ``<cache>/clusters``."""
    clusters = (cache_root() / "clusters").resolve()
    root = clusters / check_name(name)
    if root.resolve().parent != clusters:  # a symlink planted in place of the directory
        raise UsageError(f"{root}: resolves outside {clusters}; remove it by hand if unwanted")
    return root


def _layout(name: str, ports: dict[str, int]) -> Layout:
    return Layout(cluster_root(name), Pki(cache_root() / "pki" / PKI_FORMAT), ports)


def _state_file(name: str) -> Path:
    return cluster_root(name) / "state.json"


def kubeconfig_path(name: str) -> Path:
    return cluster_root(name) / "kubeconfig"


def running(name: str) -> State | None:
    path = _state_file(name)
    if not path.is_file():
        return None
    state = State.load(path)
    return (
        state
        if all(processes.alive(pid, binary) for pid, binary in state.processes.values())
        else None
    )


def _https_ok(url: str, context: ssl.SSLContext | bool) -> bool:
    return httpx.get(url, verify=context, timeout=2).status_code == 200


class _Starter:
    """Starts components one after another, recording each in the state file."""

    def __init__(self, state: State, layout: Layout, progress: Progress) -> None:
        self.state, self.layout, self.progress = state, layout, progress

    def __call__(
        self,
        name: str,
        argv: list[str],
        ready: Callable[[], bool],
        timeout: float = 60,
        env: dict[str, str] | None = None,
    ) -> None:
        started = time.monotonic()
        log = self.layout.log(name)
        pid = processes.start(argv, log, env)
        self.state.processes[name] = (pid, argv[0])
        self.state.save(_state_file(self.state.name))

        def check() -> bool:
            if not processes.alive(pid):
                raise MlkubeError(f"{name} exited; see {log}")
            return ready()

        try:
            processes.wait_until(name, check, timeout, log)
        except MlkubeError as exc:
            if not processes.alive(pid):
                raise MlkubeError(
                    f"{name} exited at start; last lines of {log}: {_tail(log)}"
                ) from None
            raise exc from None
        self.progress(f"{name} ready ({time.monotonic() - started:.1f}s, pid {pid})")


def _tail(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
    return " | ".join(lines)[-600:]


def up(
    name: str,
    platform: SpecFile | None,
    progress: Progress,
    *,
    throttle: Sequence[str] = (),
    serving: bool = False,
    gpu_metrics: bool = False,
    cpu_metrics: bool = False,
) -> State:
    """Start the cluster ``name`` (or return it if it runs), shaped like ``platform``.

    ``throttle``: ServiceAccounts (``namespace/name``) that API Priority and Fairness
    gives one seat, so that a burst of their requests gets real 429s.
    ``serving``: also run KServe's controller (InferenceServices become Ready).
    ``gpu_metrics``: the GPU metrics pipeline too (`metrics_pipeline`), for HPAs on
    GPU utilisation.
    ``cpu_metrics``: KWOK's resource usage and metrics-server (`resource_metrics`), for
    HPAs on CPU (KServe's ``scaleMetric: cpu``)."""
    existing = running(name)
    if existing is not None:
        if serving and not existing.serving:
            raise UsageError(
                f"cluster {name!r} is running without KServe; `mlkube cluster down --name "
                f"{name}` it, then `up --serving`"
            )
        if gpu_metrics and not existing.gpu_metrics:
            raise UsageError(
                f"cluster {name!r} is running without the GPU metrics pipeline; `mlkube "
                f"cluster down --name {name}` it, then `up --gpu-metrics`"
            )
        if cpu_metrics and not existing.cpu_metrics:
            raise UsageError(
                f"cluster {name!r} is running without metrics-server; `mlkube cluster down "
                f"--name {name}` it, then `up --cpu-metrics`"
            )
        progress(f"cluster {name!r} is already running")
        return existing
    down(name, lambda _msg: None)  # whatever a failed earlier start left behind
    binaries = ensure(CLUSTER + SERVING if serving else CLUSTER)
    pipeline = ensure(GPU_METRICS) if gpu_metrics else None
    usage = ensure(CPU_METRICS) if cpu_metrics else None
    layout, state = _prepare(name)
    try:
        start = _Starter(state, layout, progress)
        _start_control_plane(binaries, layout, start, usage=usage is not None)
        with Kube(load_connection(str(layout.kubeconfig))) as kube:
            _install_apis(kube, layout, throttle, progress)
            _start_controllers(kube, binaries, layout, start)
            if serving:
                _start_serving(kube, binaries, layout, start, progress)
            if pipeline is not None:
                _start_gpu_metrics(kube, pipeline, layout, start)
            if usage is not None:
                _start_cpu_metrics(kube, usage, layout, start)
            if platform is not None:
                _shape(kube, platform, progress, usage=usage is not None)
                state.platform = platform.doc.source
                state.save(_state_file(name))
    except BaseException:
        _stop(state, lambda _msg: None)  # the logs stay, for the error to point at
        raise
    return state


def _prepare(name: str) -> tuple[Layout, State]:
    """The cluster's directory (marked as ours first), ports, certificates, kubeconfig
    and state file: everything `up` writes before it starts a process."""
    layout = _layout(
        name, dict(zip(PORT_NAMES, processes.free_ports(len(PORT_NAMES)), strict=True))
    )
    layout.root.mkdir(parents=True)
    (layout.root / MARKER).write_text(f"created by `mlkube cluster up --name {name}`\n")
    ensure_pki(layout.pki.root)
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.kubeconfig.write_text(yaml.safe_dump(components.kubeconfig(layout, name)))
    state = State(name, layout.ports)
    state.save(_state_file(name))
    return layout, state


def _install_apis(kube: Kube, layout: Layout, throttle: Sequence[str], progress: Progress) -> None:
    """The released CRDs (Kueue's with its conversion webhook), the infrastructure
    namespaces, and the API Priority and Fairness objects asked for."""
    crds = [controllers.with_kueue_conversion(c, layout) for c in load_crds()]
    installed = apply_objects(kube, crds)
    progress(f"{len(installed)} CRDs installed (Trainer, JobSet, Training Operator, KServe, Kueue)")
    apply_objects(kube, [_namespace(ns) for ns in INFRASTRUCTURE_NAMESPACES])
    apply_objects(kube, components.throttling(list(throttle)))


def _health_ok(url: str) -> Callable[[], bool]:
    """A health endpoint answers 200: http, or https with the component's self-signed
    serving certificate, which is not checked (only the API server's is)."""
    return lambda: _https_ok(url, False)


def _start_control_plane(b: Binaries, layout: Layout, start: _Starter, *, usage: bool) -> None:
    """``usage``: KWOK also plays the kubelets' resource metrics (`resource_metrics`)."""
    p = layout.ports
    admin = tls_context(load_connection(str(layout.kubeconfig)))
    start("etcd", components.etcd(b, layout), _health_ok(f"http://127.0.0.1:{p['etcd']}/health"))
    start(
        "kube-apiserver",
        components.apiserver(b, layout),
        lambda: _https_ok(f"{layout.server}/readyz", admin),
        timeout=120,
    )
    start(
        "kube-controller-manager",
        components.controller_manager(b, layout),
        _health_ok(f"https://127.0.0.1:{p['controller-manager']}/healthz"),
    )
    start(
        "kube-scheduler",
        components.scheduler(b, layout),
        _health_ok(f"https://127.0.0.1:{p['scheduler']}/healthz"),
    )
    stage_file = layout.root / "kwok-stages.yaml"
    config = [*stages(), *(resource_metrics.kwok_objects() if usage else [])]
    stage_file.write_text(yaml.safe_dump_all(config, sort_keys=False))
    kwok = components.kwok(b, layout, stage_file, node_port=usage)
    start("kwok", kwok, _health_ok(f"http://127.0.0.1:{p['kwok']}/healthz"))


def _start_controllers(kube: Kube, b: Binaries, layout: Layout, start: _Starter) -> None:
    """The Training Operator, JobSet, Trainer v2 (with the runtimes its release ships),
    then Kueue, each with its secret and webhooks in place."""
    p = layout.ports
    c = controllers
    apply_objects(
        kube,
        [
            c.cert_secret(layout, c.TRAINING_SECRET, c.TRAINING_NAMESPACE),
            c.cert_secret(layout, c.JOBSET_SECRET, c.JOBSET_NAMESPACE),
            c.cert_secret(layout, c.TRAINER_SECRET, c.TRAINER_NAMESPACE),
            *c.training_webhooks(layout),
            *c.jobset_webhooks(layout),
            *c.trainer_webhooks(layout),
        ],
    )
    c.write_serving_cert(layout, c.webhook_cert_dir(layout))
    c.mark_certs_mounted(layout)
    env = c.controller_env(layout)  # kubeconfig, and the cluster's own TMPDIR
    start(
        "training-operator",
        c.training_argv(b, layout),
        _health_ok(f"http://127.0.0.1:{p['training-operator-health']}/readyz"),
        env={"MY_POD_NAMESPACE": c.TRAINING_NAMESPACE, **env},
    )
    for name, settings, argv in (
        ("jobset", c.jobset_config(layout), c.jobset_argv),
        ("trainer", c.trainer_config(layout), c.trainer_argv),
    ):
        path = layout.root / f"{name}-config.yaml"
        path.write_text(yaml.safe_dump(settings, sort_keys=False))
        start(
            name,
            argv(b, layout, path),
            _health_ok(f"http://127.0.0.1:{p[f'{name}-health']}/readyz"),
            env=env,
        )
    apply_objects(kube, c.trainer_runtimes())
    config = layout.root / "kueue-config.yaml"
    config.write_text(yaml.safe_dump(c.kueue_config(layout), sort_keys=False))
    apply_objects(
        kube,
        [c.cert_secret(layout, c.KUEUE_SECRET, c.KUEUE_NAMESPACE), *c.kueue_webhooks(layout)],
    )
    c.write_serving_cert(layout, c.kueue_cert_dir(layout))
    start(
        "kueue",
        c.kueue_argv(b, layout, config),
        _health_ok(f"http://127.0.0.1:{p['kueue-health']}/readyz"),
        timeout=120,
    )


def _start_serving(
    kube: Kube, b: Binaries, layout: Layout, start: _Starter, progress: Progress
) -> None:
    """KServe's controller manager in Standard mode, after its CRDs, ConfigMap and
    webhooks; then the release's ClusterServingRuntimes, which its webhook validates."""
    apply_objects(kube, [*serving.crds(), *serving.install_objects(layout)])
    start(
        "kserve",
        serving.argv(b, layout),
        _health_ok(f"http://127.0.0.1:{layout.ports['kserve-health']}/readyz"),
        timeout=120,
        env={**controllers.controller_env(layout), **serving.env()},
    )
    installed = apply_objects(kube, serving.runtimes())
    progress(f"KServe: {len(installed)} ClusterServingRuntimes installed")


def _start_gpu_metrics(kube: Kube, b: Binaries, layout: Layout, start: _Starter) -> None:
    """The dcgm-exporter stand-in, Prometheus and prometheus-adapter, then the adapter's
    APIServices, waited for until the aggregator reports them Available."""
    p, mp = layout.ports, metrics_pipeline
    mp.write_configs(layout)
    apply_objects(kube, [mp.adapter_rules_configmap()])  # the adapter's, as a pod mounts it
    start(
        "gpu-metrics",
        mp.exporter_argv(layout),
        _health_ok(f"http://127.0.0.1:{p['gpu-metrics']}/health"),
    )
    start(
        "prometheus",
        mp.prometheus_argv(b, layout),
        _health_ok(f"http://127.0.0.1:{p['prometheus']}/-/ready"),
    )
    start(
        "prometheus-adapter",
        mp.adapter_argv(b, layout),
        _health_ok(f"https://127.0.0.1:{p['prometheus-adapter']}/readyz"),
        timeout=120,
    )
    objects = mp.registration(layout)
    apply_objects(kube, objects)
    names = [o["metadata"]["name"] for o in objects if o["kind"] == "APIService"]
    _wait_available(kube, names)
    start.progress(f"{', '.join(names)} Available")


def _start_cpu_metrics(kube: Kube, b: Binaries, layout: Layout, start: _Starter) -> None:
    """metrics-server, scraping KWOK's kubelets, then its APIService, waited for until
    the aggregator reports it Available."""
    start(
        "metrics-server",
        resource_metrics.argv(b, layout),
        _health_ok(f"https://127.0.0.1:{layout.ports['metrics-server']}/livez"),
    )
    objects = resource_metrics.registration(layout)
    apply_objects(kube, objects)
    names = [o["metadata"]["name"] for o in objects if o["kind"] == "APIService"]
    _wait_available(kube, names)
    start.progress(f"{', '.join(names)} Available")


def _wait_available(kube: Kube, names: list[str]) -> None:
    def available() -> bool | None:
        found = [kube.get("apiregistration.k8s.io/v1", "APIService", n) for n in names]
        ok = all(s is not None and condition(s, "Available").get("status") == "True" for s in found)
        return True if ok else None

    until(f"APIServices {', '.join(names)} Available", available, timeout=60, every=0.25)


def _shape(kube: Kube, platform: SpecFile, progress: Progress, *, usage: bool = False) -> None:
    """Create the platform's fake nodes, wait until they are Ready, apply its objects.
    ``usage``: each node names where KWOK serves its kubelet's resource metrics."""
    assert isinstance(platform.spec, Platform)
    nodes = platform_nodes(platform.spec)
    if usage:
        objects = resource_metrics.kwok_objects()
        nodes = [resource_metrics.annotate(n, objects) for n in nodes]
    started = time.monotonic()

    def create(node: dict[str, Any]) -> None:
        status = node.pop("status")
        kube.patch_status(kube.create(node), status)

    # A few at a time: one by one, 1,000 nodes are 2,000 round trips in a row.
    with ThreadPoolExecutor(NODE_WRITERS) as pool:
        list(pool.map(create, nodes))
    wait_nodes_ready(kube, {n["metadata"]["name"] for n in nodes})
    progress(f"{len(nodes)} GPU nodes Ready ({time.monotonic() - started:.1f}s)")
    applied = apply_objects(kube, render_specs([platform]))
    progress(f"platform {platform.spec.metadata.name!r}: {len(applied)} objects applied")


def wait_nodes_ready(kube: Kube, names: set[str], stall: float = NODES_STALL) -> None:
    """Until every node in ``names`` is Ready, for as long as more of them become Ready:
    KWOK's pace is the machine's, so a fixed deadline that suits 100 nodes fails 1,000
    on a loaded machine while they are still turning Ready. Fails after ``stall``
    seconds in which none did, naming a few that are not."""
    ready: set[str] = set()

    def count() -> tuple[int, int]:
        nonlocal ready
        nodes = kube.list("v1", "Node", cached=True)  # the watch cache: no etcd read
        ready = {n["metadata"]["name"] for n in nodes if _node_ready(n)}
        return len(names & ready), len(names)

    try:
        until_complete(f"{len(names)} nodes Ready", count, stall=stall,
                       every=max(0.25, len(names) / 1000))  # fmt: skip
    except WaitTimeout as exc:
        missing = sorted(names - ready)
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise WaitTimeout(f"{exc}; not Ready: {', '.join(missing[:5])}{more}") from None


def _node_ready(node: dict[str, Any]) -> bool:
    return condition(node, "Ready").get("status") == "True"


def down(name: str, progress: Progress) -> bool:
    """Stop every process the cluster started, by pid, and remove its files; False if
    there was no cluster of that name. A directory without ``up``'s marker is refused."""
    root = cluster_root(name)
    if not root.exists() and not root.is_symlink():
        return False
    # state.json: the clusters of an mlkube from before the marker.
    if root.is_symlink() or not ((root / MARKER).is_file() or _state_file(name).is_file()):
        raise UsageError(
            f"{root}: not a directory made by `mlkube cluster up` (no {MARKER}); "
            "left as it is: remove it yourself if it is not needed"
        )
    path = _state_file(name)
    had_state = path.is_file()
    if had_state:
        _stop(State.load(path), progress)
    _remove(root)
    return had_state


def _remove(root: Path) -> None:
    def failed(_function: Any, path: str, info: Any) -> None:
        exc = info[1]
        raise UsageError(f"{path}: cannot remove: {reason(exc)}") from None

    shutil.rmtree(root, onerror=failed)


def _stop(state: State, progress: Progress) -> None:
    for component, (pid, binary) in reversed(list(state.processes.items())):
        processes.stop(pid, binary)
        progress(f"{component} stopped (pid {pid})")


def status(name: str) -> dict[str, Any]:
    path = _state_file(name)
    if not path.is_file():
        raise UsageError(f"no local cluster named {name!r}; `mlkube cluster up` starts one")
    state = State.load(path)
    report: dict[str, Any] = {
        "name": name,
        "kubeconfig": str(kubeconfig_path(name)),
        "server": f"https://127.0.0.1:{state.ports['apiserver']}",
        "platform": state.platform,
        "serving": state.serving,
        "cpu_metrics": state.cpu_metrics,
        "components": {
            c: {"pid": pid, "running": processes.alive(pid, binary)}
            for c, (pid, binary) in state.processes.items()
        },
    }
    if report["components"].get("kube-apiserver", {}).get("running"):
        with Kube(load_connection(str(kubeconfig_path(name)))) as kube:
            nodes = kube.list("v1", "Node")
            report["nodes"] = {
                "total": len(nodes),
                "ready": sum(1 for n in nodes if _node_ready(n)),
            }
    return report
