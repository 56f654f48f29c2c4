"""``--format json``: an object with a ``findings`` list and a summary."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from mlkube.rules.model import Finding, Severity


def summary(findings: Sequence[Finding], *, objects: int, unit: str = "object") -> dict[str, int]:
    """How many were examined, and found at each severity (JSON's and YAML's)."""
    counts = {str(s): sum(1 for f in findings if f.severity == s) for s in Severity}
    return {f"{unit}s": objects, "findings": len(findings), **counts}


def to_json(findings: Sequence[Finding], *, objects: int, unit: str = "object") -> Iterator[str]:
    """``{"findings": [...], "summary": {...}}``, one finding per line."""
    yield '{\n  "findings": ['
    for i, finding in enumerate(findings):
        yield ("," if i else "") + "\n    " + json.dumps(finding.to_dict())
    yield f'\n  ],\n  "summary": {json.dumps(summary(findings, objects=objects, unit=unit))}\n}}\n'
