"""``mlkube cluster up | down | status``"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from mlkube.cli import options
from mlkube.errors import UsageError
from mlkube.fileio import write_atomic
from mlkube.localcluster import cluster
from mlkube.localcluster.binaries import cache_root
from mlkube.progress import Progress, clock
from mlkube.spec import load_platform


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "cluster",
        help="a local cluster: the real control plane with fake GPU nodes",
        description="A local cluster made of the real etcd, kube-apiserver, "
        "kube-controller-manager and kube-scheduler, with KWOK fake GPU nodes.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start (builds the binaries on first use)")
    up.add_argument("--platform", metavar="FILE", help="a Platform spec that shapes the nodes")
    up.add_argument(
        "--throttle",
        action="append",
        default=[],
        metavar="NAMESPACE/SERVICEACCOUNT",
        help="give this ServiceAccount one seat of API Priority and Fairness, so that "
        "bursts of its requests are rejected with 429 (tests of clients under load)",
    )
    up.add_argument(
        "--serving",
        action="store_true",
        help="also run KServe's controller (Standard mode, no Knative), so that "
        "InferenceServices become Ready; builds it on first use",
    )
    up.add_argument(
        "--gpu-metrics",
        action="store_true",
        help="also run the GPU metrics pipeline: a dcgm-exporter stand-in (utilisation "
        "from each pod's kwok.mlkube.dev/gpu-utilization annotation), Prometheus and "
        "prometheus-adapter serving custom.metrics.k8s.io, so HPAs on DCGM_FI_DEV_GPU_UTIL "
        "scale (builds Prometheus and the adapter on first use)",
    )
    up.add_argument(
        "--cpu-metrics",
        action="store_true",
        help="also run metrics-server on KWOK's resource usage (a container's CPU from its "
        "pod's kwok.x-k8s.io/usage-cpu annotation), serving metrics.k8s.io, so HPAs on CPU "
        "(KServe's scaleMetric: cpu) scale (builds metrics-server on first use)",
    )
    down = actions.add_parser("down", help="stop every process and remove the cluster's files")
    status = actions.add_parser("status", help="components, nodes and kubeconfig")
    options.add_output(status, ("text", "json", "yaml"))
    for action, run in ((up, run_up), (down, run_down), (status, run_status)):
        action.add_argument("--name", default="mlkube", help="cluster name (default: mlkube)")
        action.set_defaults(run=run)


def _say(message: str) -> None:
    print(f"mlkube: {message}", file=sys.stderr)


def _last_up() -> Path:
    """How long the last `cluster up` on this machine took: the estimate of the next."""
    return cache_root() / "cluster-up.json"


def _up_progress() -> Progress:
    try:
        last = float(json.loads(_last_up().read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        last = None
    return Progress("cluster up", last, unit=clock, rate=False)


def run_up(args: argparse.Namespace) -> int:
    """On a terminal, one line: time so far of the last up's, and the step just done;
    piped, quiet but for the last line (and the export on stdout)."""
    started = time.monotonic()
    platform = load_platform(args.platform) if args.platform else None
    for account in args.throttle:
        namespace, _, name = account.partition("/")
        if not namespace or not name:
            raise UsageError(f"--throttle {account!r}: expected NAMESPACE/SERVICEACCOUNT")
    steps: list[str] = []
    with _up_progress() as progress:

        def step(message: str) -> None:
            steps.append(message)
            progress.update(time.monotonic() - started, message)

        state = cluster.up(
            args.name,
            platform,
            step,
            throttle=args.throttle,
            serving=args.serving,
            gpu_metrics=args.gpu_metrics,
            cpu_metrics=args.cpu_metrics,
        )
    took = time.monotonic() - started
    if len(steps) > 1:  # it started something (one step: it was running already)
        with contextlib.suppress(OSError):  # only an estimate
            write_atomic(str(_last_up()), json.dumps({"seconds": round(took, 1)}))
    _say(f"cluster {state.name!r} up in {took:.1f}s")
    print(f"export KUBECONFIG={cluster.kubeconfig_path(args.name)}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    if not cluster.down(args.name, _say):
        _say(f"no local cluster named {args.name!r}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    report = cluster.status(args.name)
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return 0
    if args.format == "yaml":
        print(yaml.safe_dump(report, sort_keys=False), end="")
        return 0
    print(f"cluster     {report['name']}  {report['server']}")
    print(f"kubeconfig  {report['kubeconfig']}")
    for name, c in report["components"].items():
        print(f"  {name:<26} {'running' if c['running'] else 'STOPPED'}  pid {c['pid']}")
    if report.get("serving"):
        print("serving     KServe (Standard mode, no Knative)")
    if "nodes" in report:
        print(f"nodes       {report['nodes']['ready']}/{report['nodes']['total']} Ready")
    return 0 if all(c["running"] for c in report["components"].values()) else 1
