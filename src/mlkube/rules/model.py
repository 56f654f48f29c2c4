"""Rules, violations and findings: the one schema lint, preflight and doctor share."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, Generic, TypeVar

from mlkube.manifests.objects import Location

S = TypeVar("S")


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclass(frozen=True, slots=True)
class Violation:
    """What a rule's check function reports: where, and what is wrong there; ``fix``
    when the remedy depends on what was found (a new memory limit, an image name)."""

    where: Location
    message: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A violation with the identity of the rule that found it."""

    rule: str
    name: str
    severity: Severity
    where: Location
    message: str
    remediation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": str(self.severity),
            "file": self.where.source,
            "line": self.where.line,
            "object": self.where.obj.to_dict(),
            "field": self.where.field,
            "message": self.message,
            "remediation": self.remediation,
        }


@dataclass(frozen=True, slots=True)
class RuleDoc:
    """A rule's documentation, in Ruff's sections."""

    summary: str
    why: str
    example: str
    instead: str


_SECTION = re.compile(r"^## (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Rule(Generic[S]):
    """A check, its stable id, and what to do about it.

    The check function's name is the rule's name (``gpu_limit_missing`` →
    ``gpu-limit-missing``, read as "allow gpu-limit-missing"), and its docstring is
    the rule's documentation: a one-line summary, then ``## Why is this bad?``,
    ``## Example`` and ``## Use instead`` sections, from which docs are generated.
    """

    id: str
    severity: Severity
    remediation: str
    check: Callable[[S], Iterable[Violation]]

    @property
    def name(self) -> str:
        return self.check.__name__.replace("_", "-")

    @cached_property
    def doc(self) -> RuleDoc:
        text = inspect.getdoc(self.check) or ""
        parts = _SECTION.split(text)
        sections = {
            title.strip(): body.strip()
            for title, body in zip(parts[1::2], parts[2::2], strict=True)
        }
        return RuleDoc(
            summary=parts[0].strip(),
            why=sections.get("Why is this bad?", ""),
            example=sections.get("Example", ""),
            instead=sections.get("Use instead", ""),
        )

    def matches(self, selector: str) -> bool:
        return selector in (self.id, self.name)

    def finding(self, violation: Violation, severity: Severity | None = None) -> Finding:
        return Finding(
            self.id,
            self.name,
            severity or self.severity,
            violation.where,
            violation.message,
            violation.fix or self.remediation,
        )
