"""``mlkube preflight [--platform FILE]``"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from mlkube import rbac
from mlkube.cli import kubeopts
from mlkube.cli.options import add_report_options, use_color
from mlkube.cluster.facts import gather_facts
from mlkube.preflight import judge, outcomes
from mlkube.report import render_findings
from mlkube.rules.preflight import RULES, Subject
from mlkube.spec import Platform, load_platform


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "preflight",
        help="is this cluster ready for ML workloads (pass / warn / fail)",
        description="Check the guide's prerequisites against a live cluster: version, GPU "
        "labels and capacity, GPU Operator, cert-manager, storage, the ML CRDs, the "
        "deployer's access, the GPU metric; with --platform, the pools too. Exit 1 on a fail.",
    )
    p.add_argument("--platform", metavar="FILE", help="also check the pools of this Platform")
    p.add_argument(
        "--print-rbac", nargs="?", const="", metavar="SUBJECT",
        help="print the Role and ClusterRoles the deployer needs in -n NAMESPACE (and "
        "bindings for SUBJECT: User:NAME, Group:NAME or ServiceAccount:[NS/]NAME); no cluster",
    )  # fmt: skip
    add_report_options(p)
    kubeopts.add(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.print_rbac is not None:
        namespace = args.namespace or "default"
        who = rbac.subject(args.print_rbac, namespace) if args.print_rbac else None
        print(yaml.safe_dump_all(rbac.deployer_rbac(namespace, who), sort_keys=False), end="")
        return 0
    platform = load_platform(args.platform).spec if args.platform else None
    assert platform is None or isinstance(platform, Platform)
    kube, namespace = kubeopts.connect(args)
    with kube:
        subject = Subject(gather_facts(kube, namespace), platform)
    findings = judge(subject)
    checks = outcomes(subject, findings)
    color = use_color(args.color)
    sys.stdout.writelines(
        render_findings(
            findings, args.format, RULES, objects=len(checks), color=color, unit="check"
        )
    )
    if args.format == "text":
        names = {r.id: r.name for r in RULES}
        for rule, outcome in checks.items():
            print(f"{outcome:4s}  {rule} {names[rule]}")
    return 1 if "fail" in checks.values() else 0
