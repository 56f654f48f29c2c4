"""The doctor rule registry: diagnoses over an `Evidence` snapshot, in id order."""

from __future__ import annotations

from mlkube.rules.doctor import pods, scheduling, serving, storage, workloads
from mlkube.rules.model import Rule
from mlkube.snapshots.evidence import Evidence

RULES: tuple[Rule[Evidence], ...] = tuple(
    sorted(
        (*pods.RULES, *scheduling.RULES, *serving.RULES, *storage.RULES, *workloads.RULES),
        key=lambda r: r.id,
    )
)
