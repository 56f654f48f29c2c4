"""``kustomize build``, run by the real tool, with each object traced to its file.

kustomize rewrites what it builds (name prefixes, namespaces, patches), so its output
has no lines a user could open. Built once more through a wrapper kustomization that
asks for ``buildMetadata: [originAnnotations]``, each object names the file it came
from; lint then points at the same field in that file (or at its nearest parent there,
for a field an overlay's patch added). Objects without a file (a generator's
ConfigMap, a remote base) keep the lines of the build output, named
``<kustomize build DIR>``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from mlkube.errors import InputError, MlkubeError, UsageError
from mlkube.manifests.objects import dig
from mlkube.manifests.yamlstream import Document, read_stream

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN = "config.kubernetes.io/origin"
_TIMEOUT = 300


def kustomization_file(directory: Path) -> Path | None:
    """The kustomization file of ``directory``, as kustomize looks for it."""
    for name in KUSTOMIZATION_FILES:
        if is_file(directory / name):
            return directory / name
    return None


def is_file(path: Path) -> bool:
    """``path.is_file()``, False where the directory cannot be searched (mode 644): the
    reading of its files then says so, naming a file that exists."""
    try:
        return path.is_file()
    except OSError:
        return False


def patch_files(directory: Path) -> set[Path]:
    """The files a kustomization uses as patches: partial objects, not ones to apply.
    A kustomization kustomize could not read names none (the build would say why)."""
    file = kustomization_file(directory)
    try:
        data = yaml.safe_load(file.read_text()) if file else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return set()
    if not isinstance(data, dict):
        return set()
    named: list[Any] = []
    for key in ("patches", "patchesJson6902", "replacements"):
        entries = data.get(key)
        named += (
            [e.get("path") for e in entries if isinstance(e, dict)]
            if isinstance(entries, list)
            else []
        )
    merge = data.get("patchesStrategicMerge")
    named += merge if isinstance(merge, list) else []
    return {
        (directory / p).resolve()
        for p in named
        if isinstance(p, str) and "\n" not in p and p.strip()
    }


def command() -> list[str]:
    """``kustomize build`` if kustomize is on PATH, else ``kubectl kustomize`` (kubectl
    on PATH, or the one mlkube built for its cluster)."""
    if found := shutil.which("kustomize"):
        return [found, "build"]
    if found := shutil.which("kubectl"):
        return [found, "kustomize"]
    from mlkube.localcluster.binaries import locate  # noqa: PLC0415 - only for --kustomize

    try:
        cached = locate(("kubectl",))
    except MlkubeError:
        cached = None
    if cached is None:
        raise UsageError("--kustomize needs kustomize or kubectl on PATH")
    return [cached["kubectl"], "kustomize"]


def build(directory: str) -> Iterator[Document]:
    """The objects ``kustomize build DIRECTORY`` makes, each with the document (file and
    lines) it came from where kustomize says so."""
    root = Path(directory)
    if not root.is_dir() or kustomization_file(root) is None:
        raise InputError(directory, 0, "--kustomize: not a directory with a kustomization.yaml")
    tool = command()
    _run([*tool, directory], directory)  # as the user would: its errors are theirs
    output_name = f"<kustomize build {directory}>"
    with tempfile.TemporaryDirectory(prefix="mlkube-kustomize-") as wrapper:
        top = Path(wrapper).resolve()
        (top / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "resources": [os.path.relpath(root.resolve(), top)],
                    "buildMetadata": ["originAnnotations"],
                }
            )
        )
        out = _run([*tool, "--load-restrictor", "LoadRestrictionsNone", str(top)], directory)
        origins = _Origins(top, root)
        for doc in read_stream(io.BytesIO(out), output_name):
            if isinstance(doc.obj, dict):
                yield origins.trace(doc)
            elif doc.obj is not None:
                yield doc


def _run(argv: list[str], directory: str) -> bytes:
    try:
        proc = subprocess.run(argv, capture_output=True, check=False, timeout=_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(directory, 0, f"kustomize build: {exc}") from None
    if proc.returncode != 0:
        message = " ".join(proc.stderr.decode(errors="replace").split()) or "no output"
        raise InputError(directory, 0, f"kustomize build failed: {message}")
    return proc.stdout


class _Origins:
    """Source documents by the origin paths kustomize writes (relative to the wrapper)."""

    def __init__(self, wrapper: Path, root: Path) -> None:
        self.wrapper = wrapper
        self.root = root
        self.files: dict[Path, list[Document]] = {}

    def trace(self, built: Document) -> Document:
        obj: dict[str, Any] = built.obj
        annotations = dig(obj, ("metadata", "annotations"))
        origin = annotations.pop(ORIGIN, None) if isinstance(annotations, dict) else None
        if isinstance(annotations, dict) and not annotations:
            del obj["metadata"]["annotations"]
        path = _origin_path(origin)
        if path is None:
            return built
        file = (self.wrapper / path).resolve()
        source = self._shown(file)
        found = self._match(file, obj)
        if found is None:
            return built
        return Document(obj, source, found.node)

    def _shown(self, file: Path) -> str:
        """The file as the user would name it: relative to the directory they gave."""
        return os.path.normpath(os.path.join(self.root, os.path.relpath(file, self.root.resolve())))

    def _match(self, file: Path, built: dict[str, Any]) -> Document | None:
        """The document of ``file`` that ``built`` was made from: the same kind, and the
        longest name that the built name contains (kustomize adds prefixes, suffixes)."""
        if file not in self.files:
            try:
                with file.open("rb") as stream:
                    self.files[file] = list(read_stream(stream, str(file)))
            except (OSError, InputError):
                self.files[file] = []
        name = str(dig(built, ("metadata", "name")) or "")
        candidates = [
            (len(str(dig(d.obj, ("metadata", "name")) or "")), d)
            for d in self.files[file]
            if isinstance(d.obj, dict)
            and d.obj.get("kind") == built.get("kind")
            and str(dig(d.obj, ("metadata", "name")) or "") in name
        ]
        return max(candidates, key=lambda c: c[0])[1] if candidates else None


def _origin_path(origin: Any) -> str | None:
    if not isinstance(origin, str):
        return None
    try:
        data = yaml.safe_load(origin)
    except yaml.YAMLError:
        return None
    path = data.get("path") if isinstance(data, dict) and not data.get("repo") else None
    return path if isinstance(path, str) and path else None
