"""Progress on a terminal, silence when piped: `mlkube.progress` with a clock of its
own, and `mlkube lint` of a large input run with a pseudo-terminal as its stderr."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlkube.progress import Progress, clock, remaining, wanted

from ..terminal import read_terminal


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_time_left_is_the_rate_so_far() -> None:
    # a quarter done in 10 s: three quarters left, 30 s at that rate
    assert remaining(25, 100, 10.0) == 30.0
    assert remaining(0, 100, 10.0) is None and remaining(5, 0, 1.0) is None
    assert [clock(s) for s in (42, 185, 3720)] == ["42s", "3m05s", "1h02m"]


def test_drawn_after_half_a_second_at_most_ten_times_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLKUBE_PROGRESS", "1")
    out, now = io.StringIO(), Clock()
    with Progress("lint", 4e6, stream=out, now=now) as p:
        p.update(1e6)  # at once: a fast run shows nothing
        assert out.getvalue() == ""
        now.t += 1.0
        p.update(1e6, "9 documents")
        first = out.getvalue()
        assert first == (
            "\r\x1b[Klint: 1.0 MB of 4.0 MB (25%), about 3s left, 9 documents"
        )  # a quarter in 1 s: 3 s more
        now.t += 0.05
        p.update(2e6)
        assert out.getvalue() == first  # too soon to redraw
    assert out.getvalue() == first + "\r\x1b[K"  # the line is taken away at the end


def test_unknown_total_shows_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLKUBE_PROGRESS", "1")
    out, now = io.StringIO(), Clock()
    p = Progress("lint", None, stream=out, now=now)
    now.t += 2.0
    p.update(3e6)
    assert out.getvalue() == "\r\x1b[Klint: 3.0 MB, 1.5 MB/s"


def test_only_on_a_terminal_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLKUBE_PROGRESS", raising=False)
    assert not wanted(io.StringIO())
    master, slave = os.openpty()
    try:
        with os.fdopen(os.dup(slave), "w") as tty:
            assert wanted(tty)
            monkeypatch.setenv("MLKUBE_PROGRESS", "0")
            assert not wanted(tty)
    finally:
        os.close(master)
        os.close(slave)
    monkeypatch.setenv("MLKUBE_PROGRESS", "1")
    assert wanted(io.StringIO())


def _big_input(path: Path, jobs: int) -> Path:
    doc = (
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: j{i}, namespace: ml}}\n"
        "spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n"
        "        - {{name: c, image: 'trainer:1.0'}}\n"
    )
    path.write_text("---\n".join(doc.format(i=i) for i in range(jobs)))
    return path


def _lint(path: Path, stderr: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "MLKUBE_PROGRESS"}
    return subprocess.Popen(
        [sys.executable, "-m", "mlkube", "lint", "-f", str(path), "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
    )


def test_lint_of_a_large_input_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    # Progress is drawn after 0.5 s: 20,000 objects take 2 s and more (5,000 objects/s
    # on an idle machine), so a terminal sees it however fast the machine is.
    big = _big_input(tmp_path / "big.yaml", 20_000)
    master, slave = os.openpty()
    proc = _lint(big, slave)
    os.close(slave)
    seen = read_terminal(master)
    os.close(master)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, seen
    shown = seen.decode()
    assert "\r\x1b[Klint: " in shown and f"of {big.stat().st_size / 1e6:.1f} MB (" in shown
    assert " documents" in shown and shown.endswith("\r\x1b[K")  # cleared at the end
    assert b'"objects": 20000' in out  # stdout is the report alone

    piped = _lint(big, subprocess.PIPE)
    piped_out, piped_err = piped.communicate(timeout=300)
    assert piped.returncode == 0 and piped_err == b""  # quiet
    assert piped_out == out
