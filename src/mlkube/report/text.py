"""``--format text``: one block per finding, coloured on a terminal.

Everything in a finding may come from the input (object names, field keys, values in
messages), so control characters are escaped before printing: a name holding an ANSI
sequence must not recolour, move or clear the reader's terminal."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from mlkube.messages import printable
from mlkube.rules.model import Finding, Severity

_COLOURS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def to_text(
    findings: Sequence[Finding],
    *,
    objects: int,
    color: bool = False,
    unit: str = "object",
    skipped: Mapping[tuple[str, str], int] | None = None,
) -> Iterator[str]:
    for f in findings:
        # Findings about live objects have no line: only the cluster they came from.
        where = f"{f.where.source}:{f.where.line}" if f.where.line else f.where.source
        severity = _paint(str(f.severity), _COLOURS[f.severity], color)
        field = f" {f.where.field}" if f.where.field else ""
        yield (
            f"{_paint(_line(where), '1', color)}: {severity} {f.rule} {f.name}\n"
            f"    {_line(f'{f.where.obj}{field}')}\n"
            f"    {_line(f.message)}\n"
            f"    fix: {_line(f.remediation)}\n"
        )
    yield summary(findings, objects, unit) + "\n"
    if skipped:
        yield _line(skipped_summary(skipped)) + "\n"


def _line(text: str) -> str:
    """One line of a block: printable, and a line break in a value stays inside it."""
    return printable(text).replace("\n", "\\n")


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


def skipped_summary(skipped: Mapping[tuple[str, str], int]) -> str:
    """One line naming the kinds lint did not look inside, and how many objects of each."""
    total = sum(skipped.values())
    kinds = ", ".join(f"{kind}.{group} ({n})" for (group, kind), n in skipped.items())
    return (
        f"Skipped {total} object{'s' if total != 1 else ''} of kinds mlkube does not look "
        f"inside: {kinds}."
    )
