"""``mlkube controller run | manifests``"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from typing import Any

import yaml

from mlkube.cli import kubeopts, options
from mlkube.controller.manifests import IMAGE, NAMESPACE, bundle
from mlkube.controller.metrics import parse_bind_address
from mlkube.controller.reconciler import Options
from mlkube.controller.run import RunOptions, default_lease_namespace, run
from mlkube.errors import UsageError

INT32_MAX = 2**31 - 1


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
    kubeopts.add(r, namespace=False)  # it watches every namespace; the Lease's is below
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
    r.add_argument(
        "--lease-namespace",
        help="where the Lease lives (default: the pod's namespace in a cluster, "
        f"else {NAMESPACE}, where `controller manifests` puts it)",
    )
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
    r.add_argument(
        "--refused-retry",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="try a reconcile the API server refused (forbidden, invalid) again after "
        "this long (default 60)",
    )
    r.add_argument(
        "--give-up-after",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="exit (code 3) when the API server has not answered for this long (default 30)",
    )
    r.set_defaults(run=run_controller)
    m = actions.add_parser("manifests", help="print the in-cluster deployment bundle")
    m.add_argument("--image", default=IMAGE, help="default: %(default)s")
    m.add_argument("--namespace", default=NAMESPACE, help="default: %(default)s")
    m.add_argument("--replicas", type=int, default=2, help="default: 2 (one leads)")
    options.add_output(m, ("yaml", "json"), default="yaml")
    m.set_defaults(run=print_manifests)  # fmt: skip


def _at_least(flag: str, value: float, least: float) -> None:
    if not value >= least:  # also refuses nan
        raise UsageError(f"{flag} {value}: must be at least {least:g}")


def run_options(args: argparse.Namespace) -> RunOptions:
    """The command line, checked before anything connects or listens."""
    if args.metrics_bind_address:
        parse_bind_address(args.metrics_bind_address)
    _at_least("--workers", args.workers, 1)
    _at_least("--resync", args.resync, 0.1)
    _at_least("--watch-timeout", args.watch_timeout, 1)
    _at_least("--refused-retry", args.refused_retry, 0.1)
    _at_least("--give-up-after", args.give_up_after, 1)
    options = Options(workers=args.workers, resync_seconds=args.resync,
                      watch_timeout=args.watch_timeout,
                      refused_retry_seconds=args.refused_retry)  # fmt: skip
    return RunOptions(metrics_address=args.metrics_bind_address,
                      leader_elect=args.leader_elect,
                      lease_namespace=args.lease_namespace or default_lease_namespace(),
                      give_up_seconds=args.give_up_after, options=options)  # fmt: skip


def run_controller(args: argparse.Namespace) -> int:
    opts = run_options(args)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )  # fmt: skip
    kube, _ = kubeopts.connect(args)
    try:
        return run(kube, opts)
    finally:
        # Closed in the background, waiting a second at most: requests may still be
        # stuck on a server that does not answer, and the process is ending anyway.
        closing = threading.Thread(target=kube.close, daemon=True)
        closing.start()
        closing.join(1.0)


def print_manifests(args: argparse.Namespace) -> int:
    if not 0 <= args.replicas <= INT32_MAX:  # Deployment.spec.replicas is an int32
        raise UsageError(f"--replicas {str(args.replicas)[:20]}: must be from 0 to {INT32_MAX}")
    objs = bundle(args.image, args.namespace, args.replicas)
    if args.format == "json":
        sys.stdout.write(options.json_list(objs))
    else:
        sys.stdout.write(yaml.safe_dump_all(objs, sort_keys=False))
    return 0
