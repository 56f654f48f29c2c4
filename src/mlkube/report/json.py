"""``--format json``: an object with a ``findings`` list and a summary."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from mlkube.rules.model import Finding, Severity

if TYPE_CHECKING:
    from mlkube.manifests.inputs import Summary


def summary(
    findings: Sequence[Finding],
    *,
    objects: int,
    unit: str = "object",
    inputs: Summary | None = None,
) -> dict[str, object]:
    """How many were examined, and found at each severity (JSON's and YAML's); lint adds
    how it read its input."""
    counts = {str(s): sum(1 for f in findings if f.severity == s) for s in Severity}
    out: dict[str, object] = {f"{unit}s": objects, "findings": len(findings), **counts}
    if inputs is not None:
        out |= inputs.to_dict()
    return out


def to_json(
    findings: Sequence[Finding],
    *,
    objects: int,
    unit: str = "object",
    inputs: Summary | None = None,
) -> Iterator[str]:
    """``{"findings": [...], "summary": {...}}``, one finding per line; lint adds
    ``skippedFiles`` (what it did not read as objects, and why) and ``skippedKinds``
    (objects of custom kinds it did not look inside)."""
    yield '{\n  "findings": ['
    for i, finding in enumerate(findings):
        yield ("," if i else "") + "\n    " + json.dumps(finding.to_dict())
    yield "\n  ],"
    if inputs is not None:
        yield '\n  "skippedFiles": ['
        for i, skip in enumerate(inputs.skipped):
            yield ("," if i else "") + "\n    " + json.dumps(skip.to_dict())
        yield "\n  ],"
        yield f'\n  "skippedKinds": {json.dumps(inputs.skipped_kinds())},'
    counts = summary(findings, objects=objects, unit=unit, inputs=inputs)
    yield f'\n  "summary": {json.dumps(counts)}\n}}\n'
