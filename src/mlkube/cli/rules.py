"""``mlkube rules`` and ``mlkube explain RULE``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlkube.cli import options
from mlkube.errors import UsageError
from mlkube.rules.docs import explain
from mlkube.rules.registry import ALL_RULES


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "rules", help="list the lint, doctor and preflight rules"
    )
    options.add_output(p, ("text", "json", "yaml"))
    p.set_defaults(run=run_rules)
    e: argparse.ArgumentParser = verbs.add_parser(
        "explain", help="what a rule checks, why, an example and the fix"
    )
    e.add_argument("rule", metavar="RULE", help="rule id (MK101) or name (gpu-limit-missing)")
    e.set_defaults(run=run_explain)


def run_rules(args: argparse.Namespace) -> int:
    if args.format != "text":
        rules = [
            {"id": r.id, "name": r.name, "severity": str(r.severity), "summary": r.doc.summary}
            for r in ALL_RULES
        ]
        if args.format == "json":
            sys.stdout.write(json.dumps({"rules": rules}, indent=2) + "\n")
        else:
            import yaml  # noqa: PLC0415 - PyYAML only for this format

            sys.stdout.write(yaml.safe_dump({"rules": rules}, sort_keys=False))
        return 0
    width = max(len(r.name) for r in ALL_RULES)
    for r in ALL_RULES:
        sys.stdout.write(f"{r.id}  {r.name:<{width}}  {r.severity!s:<7}  {r.doc.summary}\n")
    return 0


def run_explain(args: argparse.Namespace) -> int:
    for r in ALL_RULES:
        if r.matches(args.rule):
            sys.stdout.write(explain(r))
            return 0
    raise UsageError(f"no rule {args.rule!r}; `mlkube rules` lists them")
