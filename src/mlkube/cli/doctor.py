"""``mlkube doctor [NAME | -n NS | -A] [-l SELECTOR] [--save FILE | --from FILE]``"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mlkube.cli import kubeopts
from mlkube.cli.options import add_report_options, use_color
from mlkube.cluster.evidence import gather, require
from mlkube.collector import collector_paused
from mlkube.doctor import diagnose, examined, require_workload
from mlkube.errors import UsageError
from mlkube.fileio import reason, write_atomic
from mlkube.manifests.labelselector import parse as parse_selector
from mlkube.report import render_findings
from mlkube.rules.doctor import RULES
from mlkube.rules.engine import at_or_above
from mlkube.rules.model import Severity
from mlkube.snapshots.evidence import Evidence


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "doctor",
        help="why is a workload (job, deployment, endpoint) pending, killed or hung",
        description="Gather evidence once (list calls by kind, never by pod), then diagnose "
        "each workload by its top-level owner, once per cause: unschedulable pods and which "
        "cause, claims that do not exist, quota refusals, Kueue holds and evictions, jobs that "
        "can never run, OOM kills, image pulls, crash loops.",
    )
    p.add_argument(
        "name", nargs="?", metavar="NAME", help="a workload or pod (default: all); exit 2 if none"
    )
    p.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    p.add_argument("--save", metavar="FILE", help="also write the evidence (never Secrets)")
    p.add_argument("--from", dest="source", metavar="FILE", help="diagnose saved evidence")
    p.add_argument(
        "--fail-on",
        choices=[str(s) for s in Severity],
        default="warning",
        help="exit 1 when a finding is at or above this severity (default: warning)",
    )
    add_report_options(p)
    kubeopts.add(p, selector=True)  # -l: only the workloads with these labels (and theirs)
    p.set_defaults(run=run)


def _save(evidence: Evidence, path: str) -> None:
    try:
        write_atomic(path, evidence.to_json())
    except OSError as exc:
        raise UsageError(f"{path}: cannot save the evidence: {reason(exc)}") from None


def run(args: argparse.Namespace) -> int:
    # 5,000 pods decode to millions of objects that hold no reference cycles: with the
    # collector on, each collection walks them all again (0.4 s of CPU; docs/benchmarks.md)
    with collector_paused():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    labels = parse_selector(args.selector) if args.selector is not None else None
    if args.source:
        evidence = Evidence.load(args.source)
    else:
        kube, namespace = kubeopts.connect(args)
        with kube:
            evidence = gather(kube, None if args.all_namespaces else namespace)
        require(evidence)  # exit 4 when the pods or nodes could not be read
        for key, why in evidence.unreadable.items():
            print(f"mlkube: not diagnosed, could not read {key}: {why}", file=sys.stderr)
        if args.save:
            _save(evidence, args.save)
            print(
                f"mlkube: evidence saved to {args.save} ({evidence.calls} list calls)",
                file=sys.stderr,
            )
    if args.name is not None:
        require_workload(evidence, args.name, args.source)
    findings = diagnose(evidence, args.name, labels=labels)
    chunks = render_findings(
        findings,
        args.format,
        RULES,
        objects=examined(evidence, args.name, labels),
        color=use_color(args.color),
    )
    sys.stdout.writelines(chunks)
    return 1 if at_or_above(findings, Severity(args.fail_on)) else 0
