"""deploy/ci/github-code-scanning.yml, the CI recipe the README documents: its lint
step, run by bash as the runner would, writes valid SARIF where upload-sarif reads it,
passes on findings and fails on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic_sarif.model import StaticAnalysisResultsFormatSarifVersion210JsonSchema as Sarif

from ..conftest import ROOT
from .test_precommit import WARNING_ONLY

WORKFLOW = ROOT / "deploy" / "ci" / "github-code-scanning.yml"


def _steps() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["lint"]
    return job, job["steps"]


def _lint_step(tmp_path: Path, manifest: str) -> tuple[int, Path]:
    job, steps = _steps()
    step = next(s for s in steps if s.get("name") == "mlkube lint")
    (tmp_path / job["env"]["MANIFESTS"]).mkdir(parents=True)
    (tmp_path / job["env"]["MANIFESTS"] / "job.yaml").write_text(manifest)
    env = {
        **os.environ,
        **job["env"],
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    # GitHub runs `run:` with `bash -e {0}`
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, check=False)
    upload = next(
        s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif")
    )
    return proc.returncode, tmp_path / upload["with"]["sarif_file"]


def test_findings_are_written_as_sarif_and_the_step_passes(tmp_path: Path) -> None:
    code, sarif = _lint_step(tmp_path, WARNING_ONLY)
    assert code == 0
    log = Sarif.model_validate_json(sarif.read_text())
    assert "MK208" in {r.ruleId for r in log.runs[0].results or []}


def test_bad_input_fails_the_step(tmp_path: Path) -> None:
    code, _ = _lint_step(tmp_path, "a: [\n")
    assert code != 0


def test_upload_runs_even_when_lint_fails_and_may_write_alerts() -> None:
    _, steps = _steps()
    upload = next(
        s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif")
    )
    assert upload["if"] == "always()"
    permissions = yaml.safe_load(WORKFLOW.read_text())["permissions"]
    assert permissions["security-events"] == "write"
