"""``-o yaml``: the JSON report's document, as YAML (kubectl's ``-o yaml`` beside ``-o json``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import yaml

from mlkube.report.json import summary
from mlkube.rules.model import Finding


def to_yaml(findings: Sequence[Finding], *, objects: int, unit: str = "object") -> Iterator[str]:
    """``findings:`` then ``summary:``, one finding (a mapping) at a time."""
    yield "findings:\n" if findings else "findings: []\n"
    for finding in findings:
        yield yaml.safe_dump([finding.to_dict()], sort_keys=False, width=1000)
    yield yaml.safe_dump(
        {"summary": summary(findings, objects=objects, unit=unit)}, sort_keys=False
    )
