"""The rules are pure: loading them, in a fresh interpreter, loads no HTTP client and
nothing from `mlkube.cluster` (which does I/O)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(m for m in sys.modules if m == "httpx" or m.startswith("mlkube.cluster"))))
"""


@pytest.mark.parametrize(
    "module",
    ["mlkube.rules.doctor", "mlkube.rules.preflight", "mlkube.snapshots.evidence", "mlkube.doctor"],
)
def test_rules_and_snapshots_load_no_io(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == []


def test_the_probe_sees_io_modules_when_they_load() -> None:
    """The premise: the same probe does see the client when something imports it."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module="mlkube.cluster.evidence")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "httpx" in json.loads(out)
