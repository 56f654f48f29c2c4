"""``--format text``: one block per finding, coloured on a terminal."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from mlkube.rules.model import Finding, Severity

_COLOURS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def to_text(
    findings: Sequence[Finding], *, objects: int, color: bool = False, unit: str = "object"
) -> Iterator[str]:
    for f in findings:
        # Findings about live objects have no line: only the cluster they came from.
        where = f"{f.where.source}:{f.where.line}" if f.where.line else f.where.source
        severity = _paint(str(f.severity), _COLOURS[f.severity], color)
        field = f" {f.where.field}" if f.where.field else ""
        yield (
            f"{_paint(where, '1', color)}: {severity} {f.rule} {f.name}\n"
            f"    {f.where.obj}{field}\n"
            f"    {f.message}\n"
            f"    fix: {f.remediation}\n"
        )
    yield summary(findings, objects, unit) + "\n"


def summary(findings: Sequence[Finding], objects: int, unit: str = "object") -> str:
    examined = f"{objects} {unit}{'s' if objects != 1 else ''}"
    if not findings:
        return f"No findings in {examined}."
    parts = []
    for s in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        n = sum(1 for f in findings if f.severity == s)
        if n:
            parts.append(f"{n} {s}{'s' if n != 1 else ''}")
    total = len(findings)
    return f"{total} finding{'s' if total != 1 else ''} ({', '.join(parts)}) in {examined}."
