"""Lint: run the lint rules over manifests streamed from files or stdin."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from mlkube.manifests.claims import with_device_claims
from mlkube.manifests.objects import Manifest, ObjectRef, manifests
from mlkube.manifests.trainer import (
    RuntimeKey,
    effective,
    is_runtime,
    is_trainjob,
    runtime_key,
    runtime_ref,
)
from mlkube.manifests.yamlstream import Document, read_paths
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
    trainjobs = _TrainJobs()
    for item in with_device_claims(items):  # pods wait for the DRA claims they name
        count += 1
        suppressed.add(item)
        for m in trainjobs.add(item):
            findings.extend(run(object_rules, m, selection, suppressed))
            inventory.add(m)
    for m in trainjobs.rest():
        findings.extend(run(object_rules, m, selection, suppressed))
        inventory.add(m)
    findings.extend(run(input_rules, inventory, selection, suppressed))
    # A runtime's field is found once, however many TrainJobs run on it.
    return Report(ordered(dict.fromkeys(findings)), count)


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


def lint_paths(
    paths: Sequence[str],
    selection: Selection | None = None,
    stdin: BinaryIO | None = None,
    *,
    seen: Callable[[Document], None] | None = None,
) -> Report:
    """Lint files, directories and ``-`` (stdin); raises InputError on unreadable input.
    ``seen`` hears of each document as it is read (progress)."""
    docs = read_paths(paths, stdin)
    if seen is not None:
        docs = _tap(docs, seen)
    return lint_manifests(manifests(docs), selection)


def _tap(docs: Iterable[Document], seen: Callable[[Document], None]) -> Iterator[Document]:
    for doc in docs:
        seen(doc)
        yield doc
