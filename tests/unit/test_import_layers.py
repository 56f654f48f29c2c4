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


def test_the_training_runtime_loads_neither_the_linter_nor_its_libraries() -> None:
    """`import mlkube.runtime` runs in every rank: none of pydantic, httpx, yaml, the
    linter or the renderer may come with it."""
    probe = (
        "import json, sys, mlkube.runtime\n"
        "heavy = ('pydantic', 'httpx', 'yaml', 'torch', 'mlkube.lint', 'mlkube.render',"
        " 'mlkube.spec', 'mlkube.rules', 'mlkube.cluster')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_the_public_api_loads_on_first_use() -> None:
    import mlkube  # noqa: PLC0415 - the point is what this import does

    assert callable(mlkube.lint_paths) and callable(mlkube.render_paths)
    assert mlkube.__version__.count(".") >= 2
