"""The CLI run in-process (``mlkube.cli.main.main``), with its streams captured: fast
enough to put every verb through every bad input, and it sees the same exceptions a
user would (a traceback is printed to the captured stderr, as it would be to theirs)."""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass

from mlkube.cli.main import main


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def run_cli(*args: str, stdin: bytes = b"") -> Outcome:
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.stdin = saved_stdin
    out.flush()
    raw = out.buffer
    assert isinstance(raw, io.BytesIO)
    return Outcome(code, raw.getvalue().decode(), err.getvalue())
