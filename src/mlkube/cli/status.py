"""``mlkube status [NAME] [-A] [-l SELECTOR]`` and
``mlkube wait NAME --for=Succeeded|Ready --timeout=…``"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

import yaml

from mlkube.cli import kubeopts, options
from mlkube.cluster.status import Status, follow, job_status, job_statuses
from mlkube.cluster.waiting import WaitTimeout
from mlkube.errors import UsageError

FORMATS = ("text", "json", "yaml")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def register(verbs: Any) -> None:
    s: argparse.ArgumentParser = verbs.add_parser(
        "status", help="where a training job or endpoint is: queue, scheduling, pods"
    )
    w: argparse.ArgumentParser = verbs.add_parser(
        "wait", help="follow a training job or endpoint until it reaches a state"
    )
    s.add_argument(
        "name", nargs="?", metavar="NAME",
        help="TrainingJob or InferenceEndpoint name (default: every one, as -l selects)",
    )  # fmt: skip
    w.add_argument("name", metavar="NAME", help="TrainingJob or InferenceEndpoint name")
    for p in (s, w):
        options.add_output(p, FORMATS)
    kubeopts.add(s, all_namespaces=True, selector=True)
    kubeopts.add(w)  # one named job, in one namespace
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


def _show(status: Status | list[Status], output: str) -> None:
    data = (
        status.to_dict() if isinstance(status, Status) else {"items": [s.to_dict() for s in status]}
    )
    if output == "json":
        print(json.dumps(data))
    elif output == "yaml":
        print(yaml.safe_dump(data, sort_keys=False), end="")
    else:
        for one in [status] if isinstance(status, Status) else status:
            print(one.line())


def run_status(args: argparse.Namespace) -> int:
    """One named job (a single object), or a list: of every job in the namespace, in
    every namespace (-A), with the labels -l asks for, or with that name in each (-A)."""
    kube, namespace = kubeopts.connect(args)
    with kube:
        if args.name is not None and not args.all_namespaces and args.selector is None:
            _show(job_status(kube, args.name, namespace), args.format)
            return 0
        statuses = job_statuses(
            kube, None if args.all_namespaces else namespace, args.selector, args.name
        )
    where = "any namespace" if args.all_namespaces else f"namespace {namespace}"
    if args.name is not None and not statuses:
        raise UsageError(f"no TrainJob, PyTorchJob or InferenceService {args.name} in {where}")
    if not statuses and args.format == "text":
        print(f"mlkube: no training jobs or endpoints in {where}", file=sys.stderr)
    _show(statuses, args.format)
    return 0


def run_wait(args: argparse.Namespace) -> int:
    timeout = seconds(args.timeout)
    if args.condition == "Complete":
        args.condition = "Succeeded"
    live = args.format == "text" and sys.stdout.isatty()
    shown = [""]

    def changed(status: Status) -> None:
        line = status.line()
        if live:
            print(f"\r\033[K{line}", end="", flush=True)
        elif args.format == "text" and line != shown[0]:
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
    if args.format != "text":
        _show(status, args.format)
    return 0
