"""``--format json``: an object with a ``findings`` list and a summary."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence

from mlkube.rules.model import Finding, Severity


def to_json(
    findings: Sequence[Finding],
    *,
    objects: int,
    unit: str = "object",
    skipped: Mapping[tuple[str, str], int] | None = None,
) -> Iterator[str]:
    """``{"findings": [...], "summary": {...}}``, one finding per line; lint adds
    ``"skipped": [{"group", "kind", "objects"}]``, the kinds it did not look inside."""
    counts = {str(s): sum(1 for f in findings if f.severity == s) for s in Severity}
    yield '{\n  "findings": ['
    for i, finding in enumerate(findings):
        yield ("," if i else "") + "\n    " + json.dumps(finding.to_dict())
    summary = {f"{unit}s": objects, "findings": len(findings), **counts}
    yield f'\n  ],\n  "summary": {json.dumps(summary)}'
    if skipped is not None:
        kinds = [{"group": g, "kind": k, "objects": n} for (g, k), n in skipped.items()]
        yield f',\n  "skipped": {json.dumps(kinds)}'
    yield "\n}\n"
