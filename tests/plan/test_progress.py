"""How far a long plan is: the trace reader and the simulator tell hooks (no I/O of
their own), and `mlkube plan` draws them on a terminal only, like lint and cluster up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlkube.plan.generate import generate, write_csv
from mlkube.plan.model import build_model
from mlkube.plan.simulate import WATCH_EVERY, simulate
from mlkube.plan.trace import SEEN_EVERY, read_trace
from mlkube.spec.load import load_platform
from mlkube.spec.models import Platform

from ..conftest import EXAMPLES
from ..terminal import read_terminal

PLATFORM = EXAMPLES / "platform.yaml"


def _platform() -> Platform:
    spec = load_platform(str(PLATFORM)).spec
    assert isinstance(spec, Platform)
    return spec


def test_the_reader_tells_the_line_reached(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    write_csv(generate(2 * SEEN_EVERY + 10, 1, _platform()), str(trace))
    lines: list[int] = []
    jobs = read_trace(str(trace), seen=lines.append)
    # the header is line 1: row k is on line k + 1, told at rows 4096 and 8192
    assert lines == [SEEN_EVERY + 1, 2 * SEEN_EVERY + 1]
    assert len(jobs) == 2 * SEEN_EVERY + 10


def test_the_simulator_tells_how_far_it_is_and_runs_the_same() -> None:
    platform = _platform()
    jobs = generate(3000, 7, platform)
    model = build_model(platform)
    told: list[tuple[float, int, int]] = []
    watched = simulate(model, jobs, seed=3, watch=lambda *step: told.append(step))
    assert watched == simulate(model, jobs, seed=3)  # watching changes nothing
    assert told, "3,000 jobs make well over 4,096 events (a submit and a finish each)"
    assert [events for _, events, _ in told] == [WATCH_EVERY * (k + 1) for k in range(len(told))]
    times, finished = [t for t, _, _ in told], [f for _, _, f in told]
    assert times == sorted(times) and times[-1] <= watched.span
    assert finished == sorted(finished) and finished[-1] <= len(jobs)
    assert len(jobs) - finished[-1] >= 0 and finished[-1] > 0


def _plan(trace: Path, out: Path, stderr: int) -> subprocess.Popen[bytes]:
    # the report goes to a file: a pipe left unread while the terminal is would fill
    env = {k: v for k, v in os.environ.items() if k != "MLKUBE_PROGRESS"}
    return subprocess.Popen(
        [sys.executable, "-m", "mlkube", "plan", "--platform", str(PLATFORM),
         "--trace", str(trace), "--format", "json", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env=env,
    )  # fmt: skip


def test_a_big_plan_shows_progress_on_a_terminal_and_nothing_when_piped(
    tmp_path: Path,
) -> None:
    # Progress is drawn after 0.5 s: 6,000 jobs on the example Platform take 2 s and
    # more to simulate (about 3,000 jobs/s on an idle machine).
    trace = tmp_path / "big.csv"
    write_csv(generate(6000, 1, _platform()), str(trace))
    master, slave = os.openpty()
    proc = _plan(trace, tmp_path / "tty.json", slave)
    os.close(slave)
    seen = read_terminal(master)
    os.close(master)
    proc.wait(timeout=300)
    assert proc.returncode == 0, seen
    shown = seen.decode()
    assert "\r\x1b[Ksimulate ml-platform: " in shown and " of 6,000 jobs (" in shown
    assert " simulated, " in shown and " events" in shown
    # cleared at the end, then the one line that says where the report went
    assert shown.endswith(f"\r\x1b[Kwrote {tmp_path / 'tty.json'}\r\n")

    piped = _plan(trace, tmp_path / "piped.json", subprocess.PIPE)
    _, err = piped.communicate(timeout=300)
    assert piped.returncode == 0
    assert err.decode() == f"wrote {tmp_path / 'piped.json'}\n"  # no progress
    assert (tmp_path / "piped.json").read_text() == (tmp_path / "tty.json").read_text()
