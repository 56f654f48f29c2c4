"""``--format`` and ``--color``: how the verbs that report findings (lint, doctor,
preflight) print them. Its own module so that those verbs share it without importing
each other (doctor does not load the linter)."""

from __future__ import annotations

import argparse
import sys

from mlkube.report import FORMATS


def add_report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", "-f", choices=FORMATS, default="text", help="output format")
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour text output (default: on a terminal)",
    )


def use_color(choice: str) -> bool:
    return choice == "always" or (choice == "auto" and sys.stdout.isatty())
