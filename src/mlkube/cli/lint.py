"""``mlkube lint PATH... | -``"""

from __future__ import annotations

import argparse
from typing import Any

from mlkube.cli import options
from mlkube.config import load_config, unknown_rules
from mlkube.errors import UsageError
from mlkube.fileio import write_stdout
from mlkube.lint import lint_paths
from mlkube.progress import Reading
from mlkube.report import render_findings
from mlkube.rules.engine import at_or_above
from mlkube.rules.lint import ALL_RULES
from mlkube.rules.model import Severity


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "lint",
        help="check manifests against ML-aware rules",
        description="Check Kubernetes manifests (files, directories, or - for stdin) "
        "against ML-aware rules, looking inside the pod templates of every workload kind.",
    )
    options.add_filenames(p, "file, directory, or - for stdin")
    options.add_report_options(p)
    p.add_argument(
        "--fail-on",
        choices=[str(s) for s in Severity],
        default=None,
        help="exit 1 when a finding is at or above this severity (default: warning)",
    )
    p.add_argument("--config", help="config file (default: ./.mlkube.yaml if present)")
    p.add_argument(
        "--disable", action="append", default=[], metavar="RULE", help="skip a rule (id or name)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if unknown := unknown_rules(args.disable):
        raise UsageError(f"--disable {unknown[0]}: no lint rule by that id or name; `mlkube rules`")
    config = load_config(args.config).lint
    selection = config.selection()
    if args.disable:
        selection = type(selection)(selection.disabled | set(args.disable), selection.severities)
    with Reading(args.paths, "lint") as seen:
        report = lint_paths(args.paths, selection, seen=seen)
    chunks = render_findings(
        report.findings,
        args.format,
        ALL_RULES,
        objects=report.objects,
        color=options.use_color(args.color),
    )
    write_stdout(chunks)
    threshold = Severity(args.fail_on or config.fail_on or "warning")
    return 1 if at_or_above(report.findings, threshold) else 0
