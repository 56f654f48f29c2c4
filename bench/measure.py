"""Running a command and measuring it: wall time, the child's own CPU time (user and
system: less sensitive than wall time to other work on a shared machine) and peak memory."""

from __future__ import annotations

import compileall
import importlib.util
import os
import subprocess
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_mib: float
    exit_code: int
    cpu_seconds: float = 0.0


def measure(argv: list[str], env: dict[str, str] | None = None) -> Measurement:
    """Run ``argv`` with output discarded; ``wait4`` gives this child's own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Measurement(seconds, usage.ru_maxrss / 1024, proc.returncode, cpu)


def compile_mlkube(*sources: str) -> None:
    """Write the bytecode of the mlkube the children will import (and of the source
    trees given), as installing it does (pip compiles every module): start-up is then
    measured, not the compiler, even from a source tree under ``PYTHONDONTWRITEBYTECODE``
    (which this environment sets)."""
    spec = importlib.util.find_spec("mlkube")
    assert spec is not None and spec.submodule_search_locations
    for directory in [*spec.submodule_search_locations, *sources]:
        compileall.compile_dir(directory, quiet=1)
