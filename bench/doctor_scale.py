"""Doctor on a namespace with 5,000 pods, on the local cluster: the time to gather
evidence and diagnose (goal: under 3 s end to end), the number of API list calls,
which must not grow with the number of pods (compared with 500 pods in the same run),
and where the time goes.

    python bench/doctor_scale.py [--runs 5] [--before SRC] [--kubeconfig FILE]

orjson and msgspec, when importable, are timed decoding the same pods list.

``--before SRC`` runs the CLI from another source tree (an older checkout's ``src``)
too, alternating run by run with this one. ``--kubeconfig`` measures a cluster that
already holds the 5,000 pods in namespace ``bench`` (this script's `populate`) instead
of starting one. Wall times depend on the load of the machine (printed); CPU times of
the client much less.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import Measurement, compile_mlkube, measure
from mlkube.cluster.client import Kube
from mlkube.cluster.evidence import gather
from mlkube.cluster.kubeconfig import load_connection
from mlkube.collector import collector_paused
from mlkube.doctor import diagnose
from mlkube.localcluster import cluster
from mlkube.manifests.yamlstream import read_text
from mlkube.spec import load_specs

PLATFORM = """\
apiVersion: mlkube.dev/v1alpha1
kind: Platform
metadata: {name: bench}
spec:
  pools:
    - {name: cpu, gpu: {model: none, count: 1}, nodes: 60, zones: [a], cpu: "256", memory: 1Ti}
"""
PROTOBUF = "application/vnd.kubernetes.protobuf"


def populate(kube: Kube, namespace: str, count: int, start: int = 0) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def create(i: int) -> None:
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"p-{i}", "namespace": namespace, "labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "x:1"}]},
            }
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(start, start + count)))


def in_process(kube: Kube) -> None:
    """As `mlkube doctor` runs, after start-up (the collector paused throughout)."""
    with collector_paused():
        started = time.perf_counter()
        evidence = gather(kube, "bench")
        gathered = time.perf_counter() - started
        findings = diagnose(evidence)
        total = time.perf_counter() - started
    print(
        f"{len(evidence.of('v1', 'Pod')):5d} pods: {evidence.calls} list calls, "
        f"gather {gathered:.2f} s, gather + diagnose {total:.2f} s, {len(findings)} findings"
    )


def _timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = work()
    return time.perf_counter() - wall, time.process_time() - cpu, value


def _other_parsers() -> dict[str, Callable[[bytes], Any]]:
    """Faster JSON parsers to compare with, when importable (not mlkube dependencies:
    ``pip install --target DIR orjson msgspec`` and put DIR on ``PYTHONPATH``)."""
    found: dict[str, Callable[[bytes], Any]] = {}
    for name, attribute in (("orjson", "loads"), ("msgspec.json", "decode")):
        try:
            found[name.split(".")[0]] = getattr(importlib.import_module(name), attribute)
        except ImportError:
            continue
    return found


def breakdown(kube: Kube, runs: int, pids: list[int]) -> None:
    """The pods list, phase by phase, one at a time: the server's answer (serialisation
    and transfer; JSON, and protobuf for the server's share), decoding, the diagnosis;
    and the events list whole and as doctor asks for it (warnings only)."""
    path = kube.resource("v1", "Pod").path("bench")
    query = {"resourceVersion": "0"}
    rows: dict[str, list[tuple[float, float]]] = {}
    size: dict[str, int] = {}
    server: dict[str, list[float]] = {}

    def fetch(accept: str) -> bytes:
        response = kube.send("GET", path, params=query, headers={"Accept": accept})
        return response.content

    for _ in range(runs):
        for accept in ("application/json", PROTOBUF):
            used = _cpu_of(pids)
            wall, cpu, body = _timed(partial(fetch, accept))
            name = f"server answer + transfer, {accept}"
            server.setdefault(name, []).append(_cpu_of(pids) - used)
            rows.setdefault(name, []).append((wall, cpu))
            size[accept] = len(body)
        for name, fields in (
            ("events list, all (as before)", None),
            ("events list, warnings only (as doctor does)", "type=Warning"),
        ):
            used = _cpu_of(pids)
            with collector_paused():
                wall, cpu, _ = _timed(
                    partial(kube.list, "v1", "Event", "bench", fields=fields, cached=True)
                )
            server.setdefault(name, []).append(_cpu_of(pids) - used)
            rows.setdefault(name, []).append((wall, cpu))
        body = fetch("application/json")
        gc.collect()
        wall, cpu, _ = _timed(partial(json.loads, body))
        rows.setdefault("decode, collector on", []).append((wall, cpu))
        gc.collect()
        with collector_paused():
            wall, cpu, items = _timed(partial(json.loads, body))
        rows.setdefault("decode, collector paused (as doctor does)", []).append((wall, cpu))
        del items
        for name, decode in _other_parsers().items():
            gc.collect()
            with collector_paused():
                wall, cpu, items = _timed(partial(decode, body))
            rows.setdefault(f"decode with {name}, collector paused", []).append((wall, cpu))
            del items
        with collector_paused():
            evidence = gather(kube, "bench")
            wall, cpu, _ = _timed(partial(diagnose, evidence))
        rows.setdefault("diagnose (all doctor rules)", []).append((wall, cpu))
    print(f"\npods list: {size['application/json']:,} bytes of JSON, "
          f"{size[PROTOBUF]:,} of protobuf; medians of {runs}")  # fmt: skip
    print("| phase | wall (s) | CPU of this process (s) | server CPU (s) |\n|---|---|---|---|")
    for name, values in rows.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        theirs = f"{statistics.median(server[name]):.2f}" if name in server else ""
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {theirs} |")


def _server_pids(kubeconfig: str) -> list[int]:
    """kube-apiserver's and etcd's pids, from the local cluster's state beside its
    kubeconfig (none for another cluster)."""
    state = Path(kubeconfig).parent / "state.json"
    if not state.exists():
        return []
    processes = json.loads(state.read_text())["processes"]
    return [processes[name][0] for name in ("kube-apiserver", "etcd") if name in processes]


def _cpu_of(pids: list[int]) -> float:
    """User and system CPU seconds these processes have used (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def end_to_end(kubeconfig: str, runs: int, before: str | None) -> None:
    argv = [sys.executable, "-m", "mlkube", "doctor", "-n", "bench", "--kubeconfig", kubeconfig]
    variants: dict[str, dict[str, str] | None] = {"`mlkube doctor -n bench`": None}
    if before:
        variants["the same, from " + before] = {
            **os.environ, "PYTHONPATH": str(Path(before).resolve())
        }  # fmt: skip
    variants["`mlkube doctor --help` (start-up)"] = None
    results: dict[str, list[Measurement]] = {name: [] for name in variants}
    server: dict[str, list[float]] = {name: [] for name in variants}
    pids = _server_pids(kubeconfig)
    for _ in range(runs):
        for name, env in variants.items():
            command = [*argv[:4], "--help"] if "--help" in name else argv
            used = _cpu_of(pids)
            result = measure(command, env)
            server[name].append(_cpu_of(pids) - used)
            assert result.exit_code == 0, (name, result)
            results[name].append(result)
    print(f"\nend to end, medians of {runs} runs, alternating; the server's CPU is that of "
          "kube-apiserver and etcd during the run (other clients' work included)")  # fmt: skip
    print("| command | wall (s) | CPU (s) | server CPU (s) | each run, wall |")
    print("|---|---|---|---|---|")
    for name, values in results.items():
        wall = statistics.median(r.seconds for r in values)
        cpu = statistics.median(r.cpu_seconds for r in values)
        each = ", ".join(f"{r.seconds:.2f}" for r in values)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {statistics.median(server[name]):.2f} "
              f"| {each} |")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", metavar="SRC", help="also run the CLI from this tree")
    parser.add_argument("--kubeconfig", help="a cluster already holding the pods")
    args = parser.parse_args()
    compile_mlkube(*([str(Path(args.before) / "mlkube")] if args.before else []))
    name = "bench-doctor"
    print(f"load average {os.getloadavg()[0]:.1f} at the start")
    if args.kubeconfig:
        kubeconfig = args.kubeconfig
    else:
        (platform,) = load_specs(read_text(PLATFORM, "bench.yaml"))
        cluster.down(name, lambda _m: None)
        cluster.up(name, platform, lambda _m: None)
        kubeconfig = str(cluster.kubeconfig_path(name))
    try:
        with Kube(load_connection(kubeconfig)) as kube:
            if not args.kubeconfig:
                for count, start in ((500, 0), (4500, 500)):  # 500 pods, then 5,000
                    populate(kube, "bench", count, start)
                    time.sleep(5)  # let KWOK settle the pods
                    in_process(kube)
            else:
                in_process(kube)
            breakdown(kube, args.runs, _server_pids(kubeconfig))
        end_to_end(kubeconfig, args.runs, args.before)
    finally:
        if not args.kubeconfig:
            cluster.down(name, lambda _m: None)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
