"""Every lint rule fires on its ``fires.yaml`` and stays silent on its ``passes.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlkube.lint import lint_paths
from mlkube.rules.lint import ALL_RULES
from mlkube.rules.model import Rule

FIXTURES = Path(__file__).parent / "rules"


def _ids(rule: Rule[Any]) -> str:
    return f"{rule.id}-{rule.name}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=_ids)
def test_rule_fires(rule: Rule[Any]) -> None:
    path = FIXTURES / rule.name / "fires.yaml"
    assert path.is_file(), f"{rule.name} has no firing fixture at {path}"
    findings = [f for f in lint_paths([str(path)]).findings if f.rule == rule.id]
    assert findings, f"{rule.id} {rule.name} did not fire on {path}"
    text = path.read_text().splitlines()
    for f in findings:
        assert 1 <= f.where.line <= len(text)
        assert f.name == rule.name and f.message and f.remediation
    # The fixture marks the lines its findings must point at: `# expect: <rule-name>`,
    # so that a finding on the wrong line (or a missing one of several) fails.
    marked = {n for n, line in enumerate(text, 1) if line.endswith(f"# expect: {rule.name}")}
    assert marked, f"{path} marks no line with '# expect: {rule.name}'"
    assert {f.where.line for f in findings} == marked


@pytest.mark.parametrize("rule", ALL_RULES, ids=_ids)
def test_rule_passes(rule: Rule[Any]) -> None:
    path = FIXTURES / rule.name / "passes.yaml"
    assert path.is_file(), f"{rule.name} has no passing fixture at {path}"
    findings = [f for f in lint_paths([str(path)]).findings if f.rule == rule.id]
    assert not findings, [f.message for f in findings]


def test_every_fixture_directory_names_a_rule() -> None:
    names = {r.name for r in ALL_RULES}
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} <= names


def test_rule_ids_and_names_are_unique_and_documented() -> None:
    assert len({r.id for r in ALL_RULES}) == len(ALL_RULES)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES)
    for r in ALL_RULES:
        doc = r.doc
        assert doc.summary and doc.why and doc.example and doc.instead, r.name
        assert r.remediation.endswith("."), r.name
