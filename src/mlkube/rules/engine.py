"""Running rules over snapshots, honouring configuration and suppressions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mlkube.manifests.objects import ObjectRef
from mlkube.rules.model import Finding, Rule, Severity

S = TypeVar("S")


@dataclass(frozen=True)
class Selection:
    """Which rules run and at what severity: from the config file and the command line."""

    disabled: frozenset[str] = frozenset()
    severities: dict[str, Severity] = field(default_factory=dict)

    def enabled(self, rules: Iterable[Rule[S]]) -> list[Rule[S]]:
        return [r for r in rules if not any(r.matches(s) for s in self.disabled)]

    def severity(self, rule: Rule[Any]) -> Severity:
        return self.severities.get(rule.id) or self.severities.get(rule.name) or rule.severity


Suppressed = Callable[[ObjectRef, Rule[Any]], bool]


def never(_obj: ObjectRef, _rule: Rule[Any]) -> bool:
    return False


def run(
    rules: Sequence[Rule[S]],
    subject: S,
    selection: Selection,
    suppressed: Suppressed = never,
) -> Iterator[Finding]:
    """Findings of ``rules`` on ``subject`` (rules must be enabled already)."""
    for rule in rules:
        for violation in rule.check(subject):
            if not suppressed(violation.where.obj, rule):
                yield rule.finding(violation, selection.severity(rule))


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in reading order: file, line, then the most severe first."""
    return sorted(
        findings,
        key=lambda f: (f.where.source, f.where.line, -f.severity.rank, f.rule, f.where.field),
    )


def at_or_above(findings: Iterable[Finding], threshold: Severity) -> bool:
    return any(f.severity.rank >= threshold.rank for f in findings)
