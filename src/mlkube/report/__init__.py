"""Formatters for findings, shared by lint, preflight and doctor."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

from mlkube.report.json import to_json
from mlkube.report.sarif import to_sarif
from mlkube.report.text import to_text
from mlkube.report.yaml import to_yaml
from mlkube.rules.model import Finding, Rule

Format = Literal["text", "json", "yaml", "sarif"]
FORMATS: tuple[Format, ...] = ("text", "json", "yaml", "sarif")


def render_findings(
    findings: Sequence[Finding],
    fmt: Format,
    rules: Sequence[Rule[Any]],
    *,
    objects: int,
    color: bool = False,
    unit: str = "object",
) -> Iterator[str]:
    """The report in chunks, written as they come: a large report never sits in memory
    as one string. ``objects`` counts what was examined, in ``unit``s (preflight: checks)."""
    if fmt == "json":
        return to_json(findings, objects=objects, unit=unit)
    if fmt == "yaml":
        return to_yaml(findings, objects=objects, unit=unit)
    if fmt == "sarif":
        return to_sarif(findings, rules)
    return to_text(findings, objects=objects, color=color, unit=unit)
