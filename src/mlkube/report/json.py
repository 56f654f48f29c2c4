"""``--format json``: an object with a ``findings`` list and a summary."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mlkube.rules.model import Finding, Severity


def to_json(findings: Sequence[Finding], *, objects: int) -> str:
    counts = {str(s): sum(1 for f in findings if f.severity == s) for s in Severity}
    payload = {
        "findings": [f.to_dict() for f in findings],
        "summary": {"objects": objects, "findings": len(findings), **counts},
    }
    return json.dumps(payload, indent=2) + "\n"
