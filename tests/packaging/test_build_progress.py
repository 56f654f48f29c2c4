"""tools/build.sh's progress, on its fast path: a stand-in `go` on PATH that "builds" a
binary in a second, so that the real script runs end to end (versions, cache, the
record of times, the estimate, the live line) without tens of minutes of compiling."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ..conftest import ROOT
from ..terminal import read_terminal

BUILD = ROOT / "tools" / "build.sh"
# A Go that answers `go list -m` with a version and makes `go build -o OUT` an
# executable after $FAKE_GO_SECONDS.
FAKE_GO = """#!/usr/bin/env bash
case $1 in
  list) if [[ $* == *.Time* ]]; then echo "v9.9.9 2020-01-01T00:00:00Z"; else echo v9.9.9; fi ;;
  build)
    while [[ $# -gt 0 ]]; do [[ $1 == -o ]] && out=$2; shift; done
    sleep "${FAKE_GO_SECONDS:-0}"
    printf '#!/bin/sh\\n' > "$out" && chmod +x "$out" ;;
  *) exit 2 ;;
esac
"""
COMPONENT = "kwok"  # two binaries: kwok, kwokctl


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "go").write_text(FAKE_GO)
    (fake / "go").chmod(0o755)
    return {
        "PATH": f"{fake}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MLKUBE_CACHE": str(tmp_path / "cache"),
        "MLKUBE_BUILD_NICE": "0",
        "FAKE_GO_SECONDS": "1",
    }


def _piped(env: dict[str, str], build: Path = BUILD) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(build), COMPONENT], env=env, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip


def _clock(seconds: int) -> str:
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m{seconds % 60:02d}s"


def _seeded(component: str) -> int:
    """What tools/build-times.tsv (the cold build of docs/testbed.md) says it takes."""
    seed = (ROOT / "tools" / "build-times.tsv").read_text()
    rows = [line.split("\t") for line in seed.splitlines()]
    return sum(int(r[2]) for r in rows if r[0] == component)


def _on_a_terminal(env: dict[str, str]) -> str:
    """build.sh with a pseudo-terminal as its stderr: what a person sees."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        ["bash", str(BUILD), COMPONENT], env=env, stdout=subprocess.DEVNULL, stderr=slave
    )
    os.close(slave)
    seen = read_terminal(master)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return seen.decode()


def _recorded(env: dict[str, str]) -> list[list[str]]:
    times = Path(env["MLKUBE_CACHE"]) / "log" / "build-times.tsv"
    return [line.split("\t") for line in times.read_text().splitlines()]


def _clear_binaries(env: dict[str, str]) -> None:
    for built in (Path(env["MLKUBE_CACHE"]) / "bin").glob(f"{COMPONENT}-*"):
        for f in built.iterdir():
            f.unlink()
        built.rmdir()


def test_with_no_record_anywhere_it_says_so(env: dict[str, str], tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    (tools / COMPONENT).mkdir(parents=True)
    (tools / "build.sh").write_text(BUILD.read_text())
    (tools / COMPONENT / "go.mod").write_text((ROOT / "tools" / COMPONENT / "go.mod").read_text())
    first = _piped(env, tools / "build.sh")  # no tools/build-times.tsv beside it
    assert "2 binaries to build (no earlier build to estimate the time from" in first.stderr
    assert "(2/2) kwokctl: " in first.stderr and "no earlier build to estimate from" in first.stderr


def test_first_build_records_times_then_the_next_estimates_from_them(
    env: dict[str, str],
) -> None:
    first = _piped(env)
    # a machine that never built: the project's measured cold build
    seeded = _seeded(COMPONENT)
    assert f"2 binaries to build, about {_clock(seeded)} as the last recorded" in first.stderr
    assert "(1/2) kwok: " in first.stderr and "(2/2) kwokctl: " in first.stderr
    assert "\r" not in first.stderr  # piped: lines only
    rows = _recorded(env)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("kwok", "kwok", "v9.9.9"),
        ("kwok", "kwokctl", "v9.9.9"),
    ]
    assert all(int(r[2]) >= 1 for r in rows)  # each took the stand-in's second or more

    _clear_binaries(env)
    second = _piped(env)
    total = sum(int(r[2]) for r in rows)
    assert f"2 binaries to build, about {_clock(total)} as the last recorded build" in second.stderr
    # after the first binary, what the second took last time is what is left
    assert "(1/2) kwok: " in second.stderr
    assert f"about {int(rows[1][2])}s left" in second.stderr

    cached = _piped(env)
    assert "binaries to build" not in cached.stderr
    assert f"{COMPONENT} v9.9.9: cached" in cached.stdout


def test_on_a_terminal_one_line_is_redrawn_with_the_time_left(env: dict[str, str]) -> None:
    _piped(env)  # a first build, to estimate from
    _clear_binaries(env)
    env = {**env, "FAKE_GO_SECONDS": "2"}
    seen = _on_a_terminal(env)
    assert "\r\x1b[K[build.sh] (1/2) kwok kwok: " in seen
    assert " of ~" in seen and " left" in seen
    _clear_binaries(env)
    quiet = _on_a_terminal({**env, "MLKUBE_PROGRESS": "0"})
    assert "\r" not in quiet.replace("\r\n", "\n")
    assert "(1/2) kwok: " in quiet
