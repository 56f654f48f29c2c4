"""Lint: run the lint rules over manifests streamed from files or stdin."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from mlkube.collector import collector_paused
from mlkube.manifests.claims import with_device_claims
from mlkube.manifests.inputs import Inputs, Scope, Summary
from mlkube.manifests.objects import Manifest, ObjectRef
from mlkube.manifests.trainer import (
    RuntimeKey,
    effective,
    is_runtime,
    is_trainjob,
    runtime_key,
    runtime_ref,
)
from mlkube.manifests.workloads import looks_inside
from mlkube.manifests.yamlstream import Document
from mlkube.rules.engine import Selection, ordered, run
from mlkube.rules.lint import INPUT_RULES, OBJECT_RULES
from mlkube.rules.lint.inventory import DEFINITION_KINDS, Inventory
from mlkube.rules.model import Finding, Rule
from mlkube.wellknown import IGNORE_ANNOTATION


@dataclass
class Report:
    findings: list[Finding]
    objects: int
    # What was read but not linted (files in a tree that are not objects), and how
    # cross-object rules grouped the rest (`mlkube.manifests.inputs.Scope`).
    inputs: Summary = field(default_factory=Summary)


def skipped_kind(m: Manifest) -> tuple[str, str] | None:
    """(group, kind) when ``m`` is of a custom kind mlkube neither looks inside nor reads
    (an unknown CRD's pods go unchecked), else None. Built-in kinds are known: those that
    run pods are looked inside, the others run none."""
    group = m.ref.group
    if looks_inside(m) or m.ref.kind in DEFINITION_KINDS:
        return None
    if "." not in group or group.endswith(".k8s.io"):  # core, apps, networking.k8s.io…
        return None
    return group, m.ref.kind


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
    """Lint objects as one deployment unit: cross-object rules see them all together."""
    return lint_units((("", m) for m in items), selection)


def lint_units(items: Iterable[tuple[str, Manifest]], selection: Selection | None = None) -> Report:
    """Lint (unit, object) pairs: object rules on each object as it streams, rules
    across objects on each unit's objects at the end, never across units."""
    selection = selection or Selection()
    object_rules = selection.enabled(OBJECT_RULES)
    input_rules = selection.enabled(INPUT_RULES)
    suppressed = _Suppressions()
    units: dict[str, _Unit] = {}
    findings: list[Finding] = []
    count = 0
    skipped: Counter[tuple[str, str]] = Counter()
    for name, item in with_device_claims(items):  # pods wait for the DRA claims they name
        count += 1
        if kind := skipped_kind(item):
            skipped[kind] += 1
        suppressed.add(item)
        unit = units.get(name) or units.setdefault(name, _Unit())
        for m in unit.trainjobs.add(item):
            findings.extend(run(object_rules, m, selection, suppressed))
            unit.inventory.add(m)
    for unit in units.values():
        for m in unit.trainjobs.rest():
            findings.extend(run(object_rules, m, selection, suppressed))
            unit.inventory.add(m)
        findings.extend(run(input_rules, unit.inventory, selection, suppressed))
    # A runtime's field is found once, however many TrainJobs run on it.
    kinds = dict(sorted(skipped.items()))
    return Report(ordered(dict.fromkeys(findings)), count, Summary(units=len(units), kinds=kinds))


@dataclass
class _TrainJobs:
    """TrainJobs are linted as they run: merged with their runtime. Runtimes are kept
    whole (they are few and small); a TrainJob whose runtime has not been read yet waits
    for the end of the input, then is linted merged, or alone if none came."""

    runtimes: dict[RuntimeKey, Manifest] = field(default_factory=dict)
    waiting: list[Manifest] = field(default_factory=list)

    def add(self, m: Manifest) -> Iterator[Manifest]:
        if is_runtime(m):
            self.runtimes.setdefault(runtime_key(m), m)
        elif is_trainjob(m):
            key = runtime_ref(m)
            runtime = self.runtimes.get(key) if key else None
            if runtime is None and key is not None:
                self.waiting.append(m)
                return
            m = effective(m, runtime) if runtime else m
        yield m

    def rest(self) -> Iterator[Manifest]:
        for m in self.waiting:
            key = runtime_ref(m)
            runtime = self.runtimes.get(key) if key else None
            yield effective(m, runtime) if runtime else m
        self.waiting.clear()


@dataclass
class _Unit:
    """What cross-object rules know of one deployment unit."""

    inventory: Inventory = field(default_factory=Inventory)
    trainjobs: _TrainJobs = field(default_factory=_TrainJobs)


def lint_paths(
    paths: Sequence[str],
    selection: Selection | None = None,
    stdin: BinaryIO | None = None,
    *,
    scope: Scope = "file",
    kustomizations: Sequence[str] = (),
    seen: Callable[[Document], None] | None = None,
) -> Report:
    """Lint files, directories, ``-`` (stdin) and kustomize builds, each deployment unit
    of ``scope`` on its own; raises InputError on unreadable input. ``seen`` hears of
    each document as it is read (progress). The collector is paused throughout: the
    node trees kept for lines (until cross-object rules end) hold no cycles, and walking
    them again and again cost a quarter of the run (docs/benchmarks.md)."""
    inputs = Inputs(scope, seen=seen)
    with collector_paused():
        report = lint_units(inputs.read(paths, stdin, kustomizations), selection)
    report.inputs = replace(report.inputs, skipped=inputs.skipped, scope=scope)
    return report
