"""`mlkube lint`, `rules` and `explain` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic_sarif.model import StaticAnalysisResultsFormatSarifVersion210JsonSchema as Sarif

from mlkube.rules.docs import reference
from mlkube.rules.registry import ALL_RULES

from .conftest import Run

BAD_JOB = """\
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata:
  name: train
  namespace: ml
  annotations: {annotations}
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      template:
        spec:
          containers:
            - name: pytorch
              image: trainer:1.0
              resources:
                requests: {{nvidia.com/gpu: 1}}
"""


def bad_job(annotations: str = "{}") -> str:
    return BAD_JOB.format(annotations=annotations)


def test_findings_exit_1_with_file_line_and_rule(mlkube: Run, tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(bad_job())
    result = mlkube("lint", str(path), "--color", "never")
    assert result.code == 1
    assert f"{path}:17: error MK101 gpu-limit-missing" in result.out
    assert "PyTorchJob ml/train" in result.out


def test_json_format_has_the_documented_keys(mlkube: Run) -> None:
    result = mlkube("lint", "-", "--format", "json", stdin=bad_job().encode())
    payload = json.loads(result.out)
    finding = next(f for f in payload["findings"] if f["rule"] == "MK101")
    assert set(finding) == {
        "rule", "name", "severity", "file", "line", "object", "field", "message", "remediation"
    }  # fmt: skip
    assert finding["file"] == "<stdin>" and finding["line"] == 17
    assert finding["object"] == {
        "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "namespace": "ml", "name": "train"
    }  # fmt: skip
    assert finding["field"].endswith('resources.requests["nvidia.com/gpu"]')


def test_sarif_is_2_1_0_with_rules_and_regions(mlkube: Run) -> None:
    result = mlkube("lint", "-", "--format", "sarif", stdin=bad_job().encode())
    Sarif.model_validate_json(result.out)  # the SARIF 2.1.0 schema, as pydantic models
    log = json.loads(result.out)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    res = next(r for r in run["results"] if r["ruleId"] == "MK101")
    assert rules[res["ruleIndex"]]["id"] == "MK101"
    assert res["level"] == "error"
    assert res["locations"][0]["physicalLocation"]["region"]["startLine"] == 17


def test_annotation_suppresses_a_rule_on_one_object(mlkube: Run) -> None:
    quiet = bad_job('{mlkube.dev/ignore: "gpu-limit-missing, MK104, MK201"}')
    result = mlkube("lint", "-", "--format", "json", stdin=quiet.encode())
    rules = {f["rule"] for f in json.loads(result.out)["findings"]}
    assert "MK101" not in rules and "MK104" not in rules


def test_config_file_disables_rules_and_sets_fail_on(mlkube: Run, tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(bad_job())
    (tmp_path / ".mlkube.yaml").write_text("lint:\n  failOn: error\n  disable: [MK101]\n")
    result = mlkube("lint", "job.yaml", "--format", "json", cwd=tmp_path)
    rules = {f["rule"]: f["severity"] for f in json.loads(result.out)["findings"]}
    assert "MK101" not in rules  # the job's one error, disabled
    assert rules["MK104"] == "warning"  # warnings remain, and failOn: error ignores them
    assert result.code == 0
    (tmp_path / ".mlkube.yaml").write_text("lint:\n  disable: [MK101]\n")
    assert mlkube("lint", "job.yaml", cwd=tmp_path).code == 1  # the default fails on warnings


def test_bad_config_file_is_a_clear_error(mlkube: Run, tmp_path: Path) -> None:
    (tmp_path / ".mlkube.yaml").write_text("lint:\n  failOn: sometimes\n")
    (tmp_path / "job.yaml").write_text(bad_job())
    result = mlkube("lint", "job.yaml", cwd=tmp_path)
    assert result.code == 2
    assert result.err.startswith("mlkube: .mlkube.yaml:2: lint.failOn:")


def test_fail_on_error_ignores_warnings(mlkube: Run) -> None:
    warning_only = bad_job().replace("requests: {nvidia.com/gpu: 1}", "limits: {nvidia.com/gpu: 1}")
    assert mlkube("lint", "-", stdin=warning_only.encode()).code == 1
    assert mlkube("lint", "-", "--fail-on", "error", stdin=warning_only.encode()).code == 0


def test_unknown_kinds_are_skipped(mlkube: Run) -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {x: 1}\n"
    result = mlkube("lint", "-", stdin=text.encode())
    assert result.code == 0 and "No findings in 1 object." in result.out


def _billion_laughs() -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return ("\n".join(lines) + "\n").encode()


def test_bad_inputs_give_one_line_and_exit_2(mlkube: Run, tmp_path: Path) -> None:
    cases = {
        "syntax.yaml": b"a: [1, 2\n",
        "binary.yaml": b"\x00\x01\x02garbage",
        "scalar.yaml": b"just a string\n",
        "nokind.yaml": b"apiVersion: v1\nmetadata: {name: x}\n",
        "bomb.yaml": _billion_laughs(),
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        result = mlkube("lint", str(tmp_path / name))
        assert result.code == 2, name
        assert result.err.startswith(f"mlkube: {tmp_path / name}:"), result.err
        assert result.err.count("\n") == 1 and "Traceback" not in result.err
    missing = mlkube("lint", str(tmp_path / "nope.yaml"))
    assert missing.code == 2 and "no such file" in missing.err


def test_rules_and_explain(mlkube: Run) -> None:
    listing = mlkube("rules")
    assert listing.code == 0 and "MK101  gpu-limit-missing" in listing.out
    explained = mlkube("explain", "gpu-limit-missing")
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert section in explained.out
    unknown = mlkube("explain", "MK999")
    assert unknown.code == 2 and "no rule 'MK999'" in unknown.err


def test_rule_reference_in_docs_is_current() -> None:
    docs = Path(__file__).parent.parent / "docs" / "rules.md"
    assert docs.read_text() == reference(ALL_RULES), (
        "regenerate: python -m mlkube.rules.docs > docs/rules.md"
    )
