"""``mlkube status NAME`` and ``mlkube wait NAME --for=Succeeded|Ready --timeout=…``"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from mlkube.cli import kubeopts
from mlkube.cluster.status import Status, follow, job_status
from mlkube.cluster.waiting import WaitTimeout
from mlkube.errors import UsageError

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def register(verbs: Any) -> None:
    s: argparse.ArgumentParser = verbs.add_parser(
        "status", help="where a training job or endpoint is: queue, scheduling, pods"
    )
    w: argparse.ArgumentParser = verbs.add_parser(
        "wait", help="follow a training job or endpoint until it reaches a state"
    )
    for p in (s, w):
        p.add_argument("name", metavar="NAME", help="TrainingJob or InferenceEndpoint name")
        p.add_argument("-o", "--output", choices=("text", "json"), default="text")
        kubeopts.add(p)
    w.add_argument(
        "--for",
        dest="condition",
        choices=("Succeeded", "Complete", "Ready"),
        required=True,
        help="Succeeded (Complete, TrainJob's word for it, is the same) or Ready",
    )
    w.add_argument("--timeout", default="10m", help="like 90s, 10m, 1h (default 10m)")
    s.set_defaults(run=run_status)
    w.set_defaults(run=run_wait)


def seconds(text: str) -> float:
    match = _DURATION.match(text.strip())
    if not text.strip() or not match:
        raise UsageError(f"--timeout {text!r}: use a duration like 90s, 10m or 1h")
    hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + secs


def _show(status: Status, output: str) -> None:
    if output == "json":
        print(json.dumps(status.to_dict()))
    else:
        print(status.line())


def run_status(args: argparse.Namespace) -> int:
    kube, namespace = kubeopts.connect(args)
    with kube:
        status = job_status(kube, args.name, namespace)
    _show(status, args.output)
    return 0


def run_wait(args: argparse.Namespace) -> int:
    timeout = seconds(args.timeout)
    if args.condition == "Complete":
        args.condition = "Succeeded"
    live = args.output == "text" and sys.stdout.isatty()
    shown = [""]

    def changed(status: Status) -> None:
        line = status.line()
        if live:
            print(f"\r\033[K{line}", end="", flush=True)
        elif args.output == "text" and line != shown[0]:
            print(line, flush=True)
        shown[0] = line

    kube, namespace = kubeopts.connect(args)
    try:
        with kube:
            status = follow(kube, args.name, namespace, args.condition, timeout, changed=changed)
    except WaitTimeout:
        failure = f"timed out after {args.timeout} waiting for {args.condition}"
    else:
        failure = ""
        if status.phase != args.condition:
            failure = f"{args.name} ended {status.phase}, not {args.condition}"
    finally:
        if live:
            print()
    if failure:
        print(f"mlkube: {failure}", file=sys.stderr)
        return 1
    if args.output == "json":
        print(json.dumps(status.to_dict()))
    return 0
