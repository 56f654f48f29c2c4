"""What lint reads, as it comes: named files, stdin, repository trees, kustomize builds.

A file named on the command line, and stdin, must hold Kubernetes objects: anything
else there is an InputError, as ``kubectl apply -f`` would refuse it. A directory is a
repository tree, and is read as kube-linter reads one: what is not a Kubernetes object
(a JSON request body, a Helm ``values.yaml``, a ``kustomization.yaml``, the templates
of a Helm chart, any file with ``{{ }}`` that is not YAML until rendered) is skipped
and listed in `Inputs.skipped` with the reason. A file there that fails to parse and
is no template stays an error: it is a manifest kubectl would refuse (docs/decisions.md).

Each object belongs to one deployment unit (`Scope`), the objects that cross-object
rules see together: by default a file, a kustomization's directory, stdin, or a
``--kustomize`` build, so that unrelated examples in one tree do not judge each other.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from mlkube.errors import InputError
from mlkube.manifests import kustomize
from mlkube.manifests.objects import Manifest, manifests, not_an_object
from mlkube.manifests.yamlstream import Document, expand_path, read_paths, read_stream

Scope = Literal["file", "dir", "all"]
SCOPES: tuple[Scope, ...] = ("file", "dir", "all")
CHART_FILE = "Chart.yaml"
STDIN = "<stdin>"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A document lint did not look at, and why."""

    source: str
    line: int
    reason: str

    def to_dict(self) -> dict[str, str | int]:
        return {"file": self.source, "line": self.line, "reason": self.reason}


@dataclass
class Inputs:
    """Reads paths into (unit, manifest) pairs, keeping what it skipped."""

    scope: Scope = "file"
    skipped: list[Skipped] = field(default_factory=list)
    seen: Callable[[Document], None] | None = None  # hears of each document read (progress)

    def read(
        self,
        paths: Sequence[str],
        stdin: BinaryIO | None = None,
        kustomizations: Sequence[str] = (),
    ) -> Iterator[tuple[str, Manifest]]:
        for raw in paths:
            if raw == "-":
                yield from self._strict(read_paths(["-"], stdin), STDIN)
            elif Path(raw).is_dir():
                yield from self._tree(Path(raw))
            else:
                yield from self._named(raw)
        for directory in kustomizations:
            yield from self._strict(kustomize.build(directory), self._unit(Path(directory)))

    def _unit(self, path: Path, kustomization: Path | None = None) -> str:
        if self.scope == "all":
            return ""
        if self.scope == "dir":
            return str(path if path.is_dir() else path.parent)
        return str(kustomization or path)

    def _strict(self, docs: Iterator[Document], unit: str) -> Iterator[tuple[str, Manifest]]:
        for m in manifests(self._tap(docs) if self.seen else docs):
            yield unit, m

    def _tap(self, docs: Iterator[Document]) -> Iterator[Document]:
        for doc in docs:
            if self.seen is not None:
                self.seen(doc)
            yield doc

    def _named(self, raw: str) -> Iterator[tuple[str, Manifest]]:
        """A file the user named: objects, or an error (a kustomization is skipped)."""
        for file in expand_path(raw):
            if file.name in kustomize.KUSTOMIZATION_FILES:
                self.skipped.append(Skipped(str(file), 1, _KUSTOMIZATION))
                continue
            yield from self._strict(read_paths([str(file)]), self._unit(file))

    def _tree(self, root: Path) -> Iterator[tuple[str, Manifest]]:
        charts: dict[Path, Path | None] = {}
        kustomizations: dict[Path, Path | None] = {}
        patches: dict[Path, set[Path]] = {}
        for file in expand_path(str(root)):
            chart = _nearest(file.parent, root, charts, _is_chart)
            if chart is not None:
                reason = f"part of the Helm chart {chart}: lint what it renders ({_HELM})"
                self.skipped.append(Skipped(str(file), 1, reason))
            elif file.name in kustomize.KUSTOMIZATION_FILES:
                self.skipped.append(Skipped(str(file), 1, _KUSTOMIZATION))
            else:
                base = _nearest(file.parent, root, kustomizations, kustomize.kustomization_file)
                if base is not None and base not in patches:
                    patches[base] = kustomize.patch_files(base)
                if base is not None and file.resolve() in patches[base]:
                    reason = f"a patch of the kustomization in {base}: {_KUSTOMIZE}"
                    self.skipped.append(Skipped(str(file), 1, reason))
                    continue
                yield from self._lenient(file, self._unit(file, base))

    def _lenient(self, file: Path, unit: str) -> Iterator[tuple[str, Manifest]]:
        """The objects of a file found in a tree; what is not one is skipped."""
        try:
            with file.open("rb") as stream:
                data = stream.read()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise InputError(str(file), 0, f"cannot read: {reason}") from None
        docs: Iterator[Document] | list[Document] = read_stream(io.BytesIO(data), str(file))
        if b"{{" in data:  # a template parses as YAML, or fails to, only by chance
            try:
                docs = list(docs)
            except InputError as exc:
                reason = f"a template ({{{{ }}}}), not YAML until rendered: {exc.message}"
                self.skipped.append(Skipped(str(file), exc.line, reason))
                return
        for doc in docs:
            if doc.obj is None:
                continue
            problem = not_an_object(doc.obj)
            if problem is None and str(doc.obj["apiVersion"]).startswith(_KUSTOMIZE_GROUP):
                problem = _KUSTOMIZATION
            if problem is not None:
                self.skipped.append(
                    Skipped(doc.source, doc.line, f"not a Kubernetes object: {problem}")
                )
                continue
            yield from self._strict(iter([doc]), unit)


_KUSTOMIZE_GROUP = "kustomize.config.k8s.io/"
_KUSTOMIZE = "lint what it builds with --kustomize DIR"
_KUSTOMIZATION = f"a kustomization: {_KUSTOMIZE}"
_HELM = "helm template CHART | mlkube lint -"


def _is_chart(directory: Path) -> Path | None:
    return directory if kustomize.is_file(directory / CHART_FILE) else None


def _nearest(
    directory: Path,
    root: Path,
    cache: dict[Path, Path | None],
    probe: Callable[[Path], Path | None],
) -> Path | None:
    """The nearest directory from ``directory`` up to ``root`` where ``probe`` finds
    something, remembered per directory (a tree is walked once)."""
    walked: list[Path] = []
    found: Path | None = None
    while directory not in cache:
        walked.append(directory)
        if probe(directory) is not None:
            found = directory
            break
        if directory == root or root not in directory.parents:
            break
        directory = directory.parent
    else:
        found = cache[directory]
    for d in walked:
        cache[d] = found
    return found


_UNIT = {
    "file": "each file, kustomization directory, --kustomize build and stdin on its own",
    "dir": "each directory on its own",
    "all": "all input together",
}


@dataclass(frozen=True, slots=True)
class Summary:
    """What the report says about the input beyond the objects: what was skipped (files
    that are not objects; objects of custom kinds no rule looks inside, by (group,
    kind)) and how cross-object rules grouped the objects."""

    skipped: Sequence[Skipped] = ()
    scope: Scope = "all"
    units: int = 1
    kinds: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def lines(self) -> Iterator[str]:
        files = len({s.source for s in self.skipped})
        if files:
            are = "is" if files == 1 else "are"
            yield (
                f"Skipped {files} file{'s' if files != 1 else ''} that {are} not Kubernetes "
                "objects (--format json lists them and why)."
            )
        if self.units > 1:
            other = "--scope all to see them together" if self.scope != "all" else ""
            yield (
                f"Cross-object rules saw {self.units} deployment units, {_UNIT[self.scope]}"
                f"{f' ({other})' if other else ''}."
            )
        if self.kinds:
            total = sum(self.kinds.values())
            kinds = ", ".join(f"{kind}.{group} ({n})" for (group, kind), n in self.kinds.items())
            yield (
                f"Skipped {total} object{'s' if total != 1 else ''} of kinds mlkube does not "
                f"look inside: {kinds}."
            )

    def skipped_kinds(self) -> list[dict[str, str | int]]:
        return [{"group": g, "kind": k, "objects": n} for (g, k), n in self.kinds.items()]

    def to_dict(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "units": self.units,
            "skippedFiles": len({s.source for s in self.skipped}),
            "skippedObjects": sum(self.kinds.values()),
        }
