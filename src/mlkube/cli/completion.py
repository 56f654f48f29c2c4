"""``mlkube completion bash|zsh|fish``: shell completion generated from the parser itself
(shtab), so a new verb or flag completes without anyone editing a script."""

from __future__ import annotations

import argparse
import sys
from typing import Any

SHELLS = ("bash", "zsh", "fish")
# Arguments that name files (or, for render's output, a directory): the shell offers
# paths for them instead of nothing.
FILE_ARGS = frozenset({"paths", "filenames", "config", "platform", "kubeconfig", "save", "source"})
DIRECTORY_ARGS = frozenset({("render", "output_dir")})
RULE_ARGS = frozenset({"rule", "disable"})


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description="Print a completion script for SHELL on standard output.",
    )
    p.add_argument("shell", metavar="SHELL", choices=SHELLS, help=", ".join(SHELLS))
    p.set_defaults(run=run_completion)


def run_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell))
    return 0


def script(shell: str) -> str:
    import shtab  # noqa: PLC0415 - only this verb needs it

    from mlkube.cli.main import build_parser  # noqa: PLC0415 - main imports this module

    parser = build_parser()
    _annotate(parser, [], shtab.FILE, shtab.DIRECTORY, _rule_names())
    text: str = shtab.complete(parser, shell=shell)
    return text if text.endswith("\n") else text + "\n"


def _rule_names() -> list[str]:
    from mlkube.rules.registry import ALL_RULES  # noqa: PLC0415 - the linter, on demand

    return sorted({name for r in ALL_RULES for name in (r.id, r.name)})


def _annotate(
    parser: argparse.ArgumentParser, path: list[str], file: Any, directory: Any, rules: list[str]
) -> None:
    """Tell shtab what each argument takes. The parser is a fresh one, built for this
    script only, so setting ``complete`` and ``choices`` on it changes no parsing."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                _annotate(sub, [*path, name], file, directory, rules)
        elif (path[-1] if path else "", action.dest) in DIRECTORY_ARGS:
            action.complete = directory  # type: ignore[attr-defined]
        elif action.dest in FILE_ARGS:
            action.complete = file  # type: ignore[attr-defined]
        elif action.dest in RULE_ARGS and action.choices is None:
            action.choices = rules
