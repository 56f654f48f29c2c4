"""Flags spelled as kubectl spells them, shared by every verb so that each means one
thing everywhere: ``-f/--filename`` is an input, ``-o/--output`` (alias ``--format``)
an output format, ``--output-dir`` a directory. The connection flags are `kubeopts`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from mlkube.errors import UsageError
from mlkube.report import FORMATS as REPORT_FORMATS

# Every format any verb prints: `-o X` with X not here is never a format, so a value
# like this that is not a file is a -f left over from when -f meant --format.
_FORMAT_WORDS = frozenset({*REPORT_FORMATS, "html"})


def add_output(p: argparse.ArgumentParser, formats: tuple[str, ...], default: str = "text") -> None:
    """``-o/--output FORMAT``, as kubectl's, with ``--format`` kept as its long alias."""
    p.add_argument(
        "-o",
        "--output",
        "--format",
        dest="format",
        choices=formats,
        default=default,
        metavar="FORMAT",
        help=f"output format: {', '.join(formats)} (default: {default})",
    )


def add_report_options(p: argparse.ArgumentParser) -> None:
    """The output of the verbs that report findings: lint, doctor, preflight."""
    add_output(p, tuple(REPORT_FORMATS))
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour text output (default: on a terminal)",
    )


def use_color(choice: str) -> bool:
    return choice == "always" or (choice == "auto" and sys.stdout.isatty())


def add_filenames(p: argparse.ArgumentParser, what: str) -> None:
    """Inputs as positional PATHs or kubectl's repeatable ``-f/--filename PATH``: both
    land in ``args.paths`` (`take_filenames`), in the order given."""
    p.add_argument("paths", nargs="*", metavar="PATH", help=what)
    p.add_argument(
        "-f",
        "--filename",
        dest="filenames",
        action="append",
        default=[],
        metavar="PATH",
        help="the same as a PATH argument (repeatable), as in kubectl",
    )


def take_filenames(args: argparse.Namespace) -> None:
    """Merge ``-f`` into ``args.paths``; at least one input is needed."""
    filenames: list[str] = getattr(args, "filenames", None) or []
    for name in filenames:
        if name in _FORMAT_WORDS and not os.path.lexists(name):
            raise UsageError(
                f"-f {name}: no such file; -f is --filename, as in kubectl "
                f"(for the output format: -o {name})"
            )
    args.paths = [*args.paths, *filenames]
    if not args.paths:
        raise UsageError("no input: give PATH arguments or -f PATH (- for standard input)")


def json_list(objects: list[dict[str, Any]]) -> str:
    """kubectl's ``-o json`` of several objects: one v1 List."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2) + "\n"
