"""Rendering the examples: golden files, determinism, lint-clean output."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.lint import lint_paths
from mlkube.render import render_paths
from mlkube.render.output import to_stream

from .conftest import EXAMPLES, Run
from .golden_bundles import LEGACY_NAMES, NAMES, golden, rendered


@pytest.mark.parametrize(
    ("name", "legacy"),
    [(n, False) for n in NAMES] + [(n, True) for n in LEGACY_NAMES],
    ids=NAMES + [f"legacy-{n}" for n in LEGACY_NAMES],
)
def test_render_matches_golden(name: str, legacy: bool) -> None:
    path = golden(name, legacy)
    assert path.is_file(), "run `make golden` to create the golden file, then review it"
    assert rendered(name, legacy) == path.read_text()


def test_render_is_byte_identical_across_runs(mlkube: Run) -> None:
    first = mlkube("render", str(EXAMPLES))
    second = mlkube("render", str(EXAMPLES))
    assert first.code == 0 and first.out and first.out == second.out


def test_rendered_bundle_lints_clean(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(to_stream(render_paths([str(EXAMPLES)])))
    report = lint_paths([str(bundle)])
    assert report.objects > 20
    findings = report.findings
    assert findings == [], [f"{f.rule} {f.where} {f.message}" for f in findings]


def test_render_directory_is_kustomize_ready_and_atomic(mlkube: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert mlkube("render", str(EXAMPLES), "--output-dir", str(out)).code == 0
    files = sorted(p.name for p in out.iterdir())
    kustomization = (out / "kustomization.yaml").read_text()
    assert all(name in kustomization for name in files if name != "kustomization.yaml")
    assert files[0].startswith("01-namespace-")
    # a second render replaces the directory whole
    assert mlkube("render", str(EXAMPLES / "platform.yaml"), "--output-dir", str(out)).code == 0
    assert not any("pytorchjob" in p.name for p in out.iterdir())
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging left behind


def test_render_refuses_to_overwrite_a_directory_it_did_not_write(
    mlkube: Run, tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    result = mlkube("render", str(EXAMPLES), "--output-dir", str(mine))
    assert result.code == 2
    assert "was not written by mlkube render" in result.err
    assert (mine / "notes.txt").read_text() == "precious"


def test_bad_spec_leaves_no_output_directory(mlkube: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "resnet-training.yaml").read_text().replace("nodes: 4", "nodes: x"))
    out = tmp_path / "out"
    result = mlkube("render", str(EXAMPLES / "platform.yaml"), str(bad), "--output-dir", str(out))
    assert result.code == 2
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert f"{bad}:" in result.err and "spec.nodes" in result.err
    assert not out.exists()
