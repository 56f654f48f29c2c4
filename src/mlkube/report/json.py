"""``--format json``: an object with a ``findings`` list and a summary."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from mlkube.rules.model import Finding, Severity

if TYPE_CHECKING:
    from mlkube.manifests.inputs import Summary


def to_json(
    findings: Sequence[Finding],
    *,
    objects: int,
    unit: str = "object",
    inputs: Summary | None = None,
) -> Iterator[str]:
    """``{"findings": [...], "summary": {...}}``, one finding per line; lint adds
    ``skippedFiles`` (what it did not read as objects, and why)."""
    counts = {str(s): sum(1 for f in findings if f.severity == s) for s in Severity}
    yield '{\n  "findings": ['
    for i, finding in enumerate(findings):
        yield ("," if i else "") + "\n    " + json.dumps(finding.to_dict())
    yield "\n  ],"
    summary: dict[str, object] = {f"{unit}s": objects, "findings": len(findings), **counts}
    if inputs is not None:
        summary |= inputs.to_dict()
        yield '\n  "skippedFiles": ['
        for i, skip in enumerate(inputs.skipped):
            yield ("," if i else "") + "\n    " + json.dumps(skip.to_dict())
        yield "\n  ],"
    yield f'\n  "summary": {json.dumps(summary)}\n}}\n'
