"""Lint: run the lint rules over manifests streamed from files or stdin."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from mlkube.manifests.objects import Manifest, ObjectRef, manifests
from mlkube.manifests.yamlstream import read_paths
from mlkube.rules.engine import Selection, ordered, run
from mlkube.rules.lint import INPUT_RULES, OBJECT_RULES
from mlkube.rules.lint.inventory import Inventory
from mlkube.rules.model import Finding, Rule
from mlkube.wellknown import IGNORE_ANNOTATION


@dataclass
class Report:
    findings: list[Finding]
    objects: int


@dataclass
class _Suppressions:
    """Per-object ``mlkube.dev/ignore: "MK101, shm-missing"`` annotations."""

    by_object: dict[ObjectRef, frozenset[str]] = field(default_factory=dict)

    def add(self, m: Manifest) -> None:
        value = m.annotations.get(IGNORE_ANNOTATION)
        if value:
            self.by_object[m.ref] = frozenset(s.strip() for s in value.split(",") if s.strip())

    def __call__(self, obj: ObjectRef, rule: Rule[Any]) -> bool:
        ignored = self.by_object.get(obj)
        return bool(ignored) and any(rule.matches(s) for s in ignored or ())


def lint_manifests(items: Iterable[Manifest], selection: Selection | None = None) -> Report:
    selection = selection or Selection()
    object_rules = selection.enabled(OBJECT_RULES)
    input_rules = selection.enabled(INPUT_RULES)
    suppressed = _Suppressions()
    inventory = Inventory()
    findings: list[Finding] = []
    count = 0
    for m in items:
        count += 1
        suppressed.add(m)
        findings.extend(run(object_rules, m, selection, suppressed))
        inventory.add(m)
    findings.extend(run(input_rules, inventory, selection, suppressed))
    return Report(ordered(findings), count)


def lint_paths(
    paths: Sequence[str], selection: Selection | None = None, stdin: BinaryIO | None = None
) -> Report:
    """Lint files, directories and ``-`` (stdin); raises InputError on unreadable input."""
    return lint_manifests(manifests(read_paths(paths, stdin)), selection)
