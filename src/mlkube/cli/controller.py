"""``mlkube controller run | manifests``"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import yaml

from mlkube.cli import kubeopts
from mlkube.controller.manifests import IMAGE, NAMESPACE, bundle
from mlkube.controller.reconciler import Options
from mlkube.controller.run import RunOptions, run


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "controller",
        help="the spot-preemption checkpoint controller",
        description="Watch Nodes for termination notices (AWS, GKE, AKS, on-prem, "
        "DisruptionTarget); ask every affected training job to checkpoint, cordon the "
        "node, and evict the job's pods in time for their grace period.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = actions.add_parser("run", help="run the controller against a cluster")
    kubeopts.add(r)
    r.add_argument(
        "--metrics-bind-address",
        default="127.0.0.1:9402",
        metavar="HOST:PORT",
        help="serve Prometheus metrics here ('' to disable; default %(default)s)",
    )
    r.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take a Lease before acting (default: yes)",
    )
    r.add_argument("--lease-namespace", default=NAMESPACE, help="default: %(default)s")
    r.add_argument("--workers", type=int, default=8, help="parallel reconciles (default 8)")
    r.add_argument(
        "--resync",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="look again at every notice this often (default 30)",
    )
    r.add_argument(
        "--watch-timeout",
        type=int,
        default=300,
        metavar="SECONDS",
        help="end and renew each watch after this long (default 300)",
    )
    r.set_defaults(run=run_controller)
    m = actions.add_parser("manifests", help="print the in-cluster deployment bundle")
    m.add_argument("--image", default=IMAGE, help="default: %(default)s")
    m.add_argument("--namespace", default=NAMESPACE, help="default: %(default)s")
    m.add_argument("--replicas", type=int, default=2, help="default: 2 (one leads)")
    m.set_defaults(run=print_manifests)  # fmt: skip


def run_controller(args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )  # fmt: skip
    kube, _ = kubeopts.connect(args)
    options = Options(workers=args.workers, resync_seconds=args.resync,
                      watch_timeout=args.watch_timeout)  # fmt: skip
    with kube:
        return run(kube, RunOptions(metrics_address=args.metrics_bind_address,
                                    leader_elect=args.leader_elect,
                                    lease_namespace=args.lease_namespace,
                                    options=options))  # fmt: skip


def print_manifests(args: argparse.Namespace) -> int:
    objs = bundle(args.image, args.namespace, args.replicas)
    sys.stdout.write(yaml.safe_dump_all(objs, sort_keys=False))
    return 0
