"""Preflight: the guide's prerequisites judged on facts gathered from a cluster."""

from __future__ import annotations

from mlkube.rules.engine import Selection, ordered, run
from mlkube.rules.model import Finding, Rule, Severity
from mlkube.rules.preflight import RULES, Subject


def applicable(subject: Subject) -> list[Rule[Subject]]:
    """The checks that apply: the pool check only with a Platform spec."""
    return [r for r in RULES if subject.platform is not None or r.id != "PF201"]


def judge(subject: Subject, selection: Selection | None = None) -> list[Finding]:
    selection = selection or Selection()
    return ordered(run(selection.enabled(applicable(subject)), subject, selection))


def outcomes(subject: Subject, findings: list[Finding]) -> dict[str, str]:
    """Each check's outcome, troubleshoot.sh style: ``pass``, ``warn`` or ``fail``."""
    failed = {f.rule: f.severity for f in findings}
    return {
        r.id: "pass"
        if r.id not in failed
        else ("fail" if failed[r.id] == Severity.ERROR else "warn")
        for r in applicable(subject)
    }
