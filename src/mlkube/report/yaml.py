"""``-o yaml``: the JSON report's document, as YAML (kubectl's ``-o yaml`` beside ``-o json``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from mlkube.report.json import summary
from mlkube.rules.model import Finding

if TYPE_CHECKING:
    from mlkube.manifests.inputs import Summary


def to_yaml(
    findings: Sequence[Finding],
    *,
    objects: int,
    unit: str = "object",
    inputs: Summary | None = None,
) -> Iterator[str]:
    """``findings:``, lint's ``skippedFiles:``, then ``summary:``, one finding (a
    mapping) at a time."""
    import yaml  # noqa: PLC0415 - PyYAML only for this format (`mlkube rules` loads this module)

    yield "findings:\n" if findings else "findings: []\n"
    for finding in findings:
        yield yaml.safe_dump([finding.to_dict()], sort_keys=False, width=1000)
    if inputs is not None:
        skipped = [skip.to_dict() for skip in inputs.skipped]
        kinds = inputs.skipped_kinds()
        yield yaml.safe_dump(
            {"skippedFiles": skipped, "skippedKinds": kinds}, sort_keys=False, width=1000
        )
    counts = summary(findings, objects=objects, unit=unit, inputs=inputs)
    yield yaml.safe_dump({"summary": counts}, sort_keys=False)
