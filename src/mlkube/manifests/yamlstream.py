"""YAML streams with line numbers, read safely and lazily, as Kubernetes reads them.

Documents are composed by libyaml (C speed) into node trees and converted to plain
Python data here, so that every object keeps its node tree and any field path can be
mapped back to a line. A stream is read one document at a time: a 50 MB Helm render
never sits in memory as objects all at once.

Scalars are resolved as kubectl and the API server resolve them (`scalars`), mapping
keys become the strings the API server's JSON has, and what the API server cannot
convert to JSON (a null key, ``.inf``, bad ``!!binary``) is an InputError with a line.
Duplicate keys, which only strict decoding refuses, are kept (the last wins, as in a
non-strict decode) and listed in `Document.duplicates` for lint and spec loading.

Aliases are shared, not copied, and a document whose aliases would expand to far more
nodes than it holds (a "billion laughs" bomb) is refused before anything walks it.
Nothing here recurses, and nesting is bounded: libyaml refuses documents nested past
1000 levels, and this reader past `MAX_DEPTH` (the API server's JSON decoder allows
10000, but no manifest comes near, and every consumer of the data, down to ``repr``
in a message, can then walk it without hitting Python's recursion limit).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import os
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from mlkube.errors import InputError
from mlkube.manifests import scalars
from mlkube.manifests.fieldpath import FieldPath

_SNIFF_BYTES = 8192
_YAML_SUFFIXES = (".yaml", ".yml", ".json")
# A document may reuse its own nodes through aliases, but not blow up: past this ratio
# of expanded to distinct nodes it is an alias bomb, whatever its absolute size.
_MAX_EXPANSION_RATIO = 10
_MAX_EXPANSION_SLACK = 10_000
# kubectl decodes files through unicode.BOMOverride (k8s.io/cli-runtime's FileVisitor):
# a UTF-16 or UTF-8 byte-order mark picks the encoding; libyaml honours the same marks.
_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")
MAX_DEPTH = 256
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser; plain scalars are tagged for go-yaml's resolution, not PyYAML's."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return scalars.PLAIN if implicit[0] else scalars.STR
        return _SEQ if kind is yaml.SequenceNode else _MAP


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A mapping key given twice: strict decoding (kubectl's default) refuses it."""

    path: FieldPath  # of the mapping
    key: str
    line: int  # of the second occurrence
    first: int  # line of the first


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: its data, where it came from, and its node tree for lines."""

    obj: Any
    source: str
    node: yaml.Node
    duplicates: tuple[Duplicate, ...] = ()
    # (id of a node, step) -> what _child found: findings and the facts kept for rules
    # across objects ask for lines under the same few parents again and again.
    _children: dict[tuple[int, str | int], tuple[int, yaml.Node] | None] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def line_of(self, path: Iterable[str | int]) -> int:
        """The line of ``path``: its key's line, or that of its deepest existing parent."""
        node, line = self.node, self.node.start_mark.line
        known = self._children
        for step in path:
            key = (id(node), step)
            if key in known:
                found = known[key]
            else:
                found = known[key] = _child(node, step)
            if found is None:
                break
            line, node = found
        return line + 1


def _child(node: yaml.Node, step: str | int) -> tuple[int, yaml.Node] | None:
    """The child at ``step`` and the (0-based) line that names it (the last, if twice)."""
    if isinstance(node, yaml.MappingNode):
        name = str(step)
        for key, value in reversed(node.value):  # the last of a key given twice
            if isinstance(key, yaml.ScalarNode) and _key_text(key) == name:
                return key.start_mark.line, value
        return None
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(step, int)
        and 0 <= step < len(node.value)
    ):
        item: yaml.Node = node.value[step]
        return item.start_mark.line, item
    return None


@lru_cache(maxsize=8192)  # keys repeat across objects: "name", "spec", "containers"
def _plain_key(text: str) -> str | None:
    """The JSON key of an untagged plain key (None for a null key)."""
    return scalars.json_key(scalars.resolve(text)[1])


def _key_text(key: yaml.ScalarNode) -> str | None:
    if key.tag == scalars.PLAIN:
        return _plain_key(key.value)
    return key.value if key.tag in (scalars.STR, scalars.TIMESTAMP) else None


def read_stream(stream: BinaryIO, source: str) -> Iterator[Document]:
    """Documents of one YAML stream; raises InputError naming ``source`` and a line."""
    head = stream.read(_SNIFF_BYTES)
    if b"\x00" in head and not head.startswith(_BOMS):
        raise InputError(source, 1, "not a YAML file: binary data (NUL byte)")
    try:
        for node in yaml.compose_all(_Rejoined(head, stream), Loader=_Loader):
            builder = _Builder(source)
            obj = builder.build(node)
            if builder.shared:  # aliases in use: an expansion past the bound is measured
                bound = _MAX_EXPANSION_RATIO * len(builder.memo) + _MAX_EXPANSION_SLACK
                if _count_visits(node, limit=bound + 1) > bound:
                    _refuse_alias_bomb(node, source)
            yield Document(obj, source, node, tuple(builder.duplicates))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = f"invalid YAML: {_one_line(exc.problem or exc.context or 'error')}"
        if exc.problem and exc.context and exc.context_mark is not None:
            message += f" ({exc.context} started on line {exc.context_mark.line + 1})"
        raise InputError(source, line, message) from None
    except yaml.YAMLError as exc:
        raise InputError(source, 1, f"invalid YAML: {_one_line(exc)}") from None
    except UnicodeDecodeError as exc:
        raise InputError(source, 1, f"not a text file: {exc.reason}") from None


def read_text(text: str, source: str) -> list[Document]:
    """All documents of a YAML string (for tests and small inputs)."""
    return list(read_stream(io.BytesIO(text.encode()), source))


def read_paths(paths: Sequence[str], stdin: BinaryIO | None = None) -> Iterator[Document]:
    """Documents of files, directories (their YAML/JSON files, sorted) and ``-`` (stdin)."""
    for raw in paths:
        if raw == "-":
            stream = stdin or (sys.stdin.buffer if sys.stdin is not None else None)
            if stream is None:
                raise InputError("<stdin>", 0, "standard input is closed")
            try:
                yield from read_stream(stream, "<stdin>")
            except OSError as exc:
                raise InputError("<stdin>", 0, f"cannot read: {_os_reason(exc)}") from None
            continue
        for file in expand_path(raw):
            try:
                with file.open("rb") as stream:
                    yield from read_stream(stream, str(file))
            except OSError as exc:
                raise InputError(str(file), 0, f"cannot read: {_os_reason(exc)}") from None


def expand_path(raw: str) -> list[Path]:
    """A file as itself; a directory as its YAML and JSON files, recursively and sorted.

    A directory that cannot be listed is an error naming it, never an empty one: lint
    must not report "no findings" about files it could not look at.
    """
    path = Path(raw)
    try:
        os.stat(path)
    except OSError as exc:
        raise InputError(raw, 0, _os_reason(exc).lower()) from None
    if not path.is_dir():
        return [path]

    def unlistable(exc: OSError) -> None:
        raise InputError(str(exc.filename or raw), 0, f"cannot list: {_os_reason(exc)}")

    found = []
    for folder, _dirs, files in os.walk(path, onerror=unlistable):
        found += [Path(folder, f) for f in files if Path(f).suffix in _YAML_SUFFIXES]
    return sorted(p for p in found if _regular_or_unknown(p))


def _regular_or_unknown(path: Path) -> bool:
    """Files to open: regular ones, and those whose stat fails (opening says why)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class _Rejoined:
    """A stream whose first bytes were already read for sniffing."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._rest.read(size)


class _Builder:
    """Node tree → data, iteratively: containers are made when first met, filled later."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.memo: dict[int, Any] = {}
        self.duplicates: list[Duplicate] = []
        # A node met twice (an alias) or a merge key: only then can the tree expand to
        # more nodes than it holds, so only then is it walked again to count them.
        self.shared = False

    def build(self, root: yaml.Node) -> Any:
        todo: list[tuple[yaml.Node, FieldPath]] = []
        value = self._value(root, (), None, todo)
        while todo:
            node, path = todo.pop()
            self._fill(node, path, todo)
        return value

    def _value(
        self,
        node: yaml.Node,
        parent: FieldPath,
        step: str | int | None,
        todo: list[tuple[yaml.Node, FieldPath]],
    ) -> Any:
        """The value of ``node`` at ``step`` of ``parent`` (None: the root): scalars now,
        containers empty and queued to be filled (their path made only for them)."""
        key = id(node)
        if key in self.memo:
            self.shared = True
            return self.memo[key]
        if isinstance(node, yaml.ScalarNode):
            if node.tag == scalars.PLAIN:  # most values: resolved here, two calls fewer
                try:
                    value = scalars.resolve(node.value)[1]
                except ValueError as exc:
                    raise self._error(node, str(exc)) from None
            else:
                value = self._scalar(node)
            if isinstance(value, float) and not math.isfinite(value):
                raise self._error(
                    node, f"{node.value} cannot be sent to the API server (JSON has no inf or nan)"
                )
        elif len(parent) + (step is not None) >= MAX_DEPTH:
            raise self._error(node, f"nested deeper than {MAX_DEPTH} levels (mlkube's limit)")
        elif isinstance(node, yaml.SequenceNode):
            value = []
            todo.append((node, parent if step is None else (*parent, step)))
        elif isinstance(node, yaml.MappingNode):
            value = {}
            todo.append((node, parent if step is None else (*parent, step)))
        else:  # pragma: no cover - libyaml produces only the three node kinds
            raise self._error(node, "unsupported YAML node")
        self.memo[key] = value
        return value

    def _fill(
        self, node: yaml.Node, path: FieldPath, todo: list[tuple[yaml.Node, FieldPath]]
    ) -> None:
        target = self.memo[id(node)]
        later: list[tuple[yaml.Node, FieldPath]] = []  # children, to fill in document order
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                target.append(self._value(item, path, i, later))
        else:
            seen: dict[str, int] = {}
            for k, v in node.value:
                if k.tag == scalars.PLAIN and k.value == "<<":
                    self.shared = True
                    self._merge(target, v)
                    continue
                name = self._key(k)
                line = k.start_mark.line + 1
                if name in seen:
                    self.duplicates.append(Duplicate(path, name, line, seen[name]))
                seen[name] = line
                target[name] = self._value(v, path, name, later)
        todo.extend(reversed(later))

    def _merge(self, target: dict[str, Any], value: yaml.Node) -> None:
        """``<<: *base``: keys of the merged mappings that the mapping does not set."""
        for merged in value.value if isinstance(value, yaml.SequenceNode) else [value]:
            if not isinstance(merged, yaml.MappingNode):
                raise self._error(merged, "a merge key (<<) takes a mapping or a list of mappings")
            base = self.build(merged)
            for name, item in base.items():
                target.setdefault(name, item)

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self._error(node, "a mapping key must be a scalar")
        name = _plain_key(node.value) if node.tag == scalars.PLAIN else None
        if name is None:
            name = scalars.json_key(self._scalar(node))
        if name is None:
            raise self._error(node, f"a null mapping key ({node.value or 'empty'!r})")
        if id(node) in self.memo:
            self.shared = True
        else:
            self.memo[id(node)] = name  # counted as a distinct node
        return name

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag, text = node.tag, node.value
        try:
            return self._resolve(node, tag, text)
        except ValueError as exc:
            raise self._error(node, str(exc)) from None

    def _resolve(self, node: yaml.ScalarNode, tag: str, text: str) -> Any:
        if tag == scalars.PLAIN:
            return scalars.resolve(text)[1]
        if tag == scalars.BINARY:
            try:
                data = base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
            except (binascii.Error, ValueError):
                raise self._error(node, "!!binary value contains invalid base64 data") from None
            return data.decode("utf-8", errors="replace")
        if tag not in scalars.RESOLVABLE:
            return text  # a custom tag (!foo): go-yaml keeps the text
        resolved = scalars.explicit(tag, text)
        if isinstance(resolved, str):
            raise self._error(node, resolved)
        return resolved[1]

    def _error(self, node: yaml.Node, message: str) -> InputError:
        return InputError(self.source, node.start_mark.line + 1, message)


def _count_visits(root: yaml.Node, limit: int) -> int:
    """Nodes visited walking the tree as if aliases were copies, stopping at ``limit``.

    Within the bound (at most the expansion `_refuse_alias_bomb` allows, as the nodes
    built are at most the distinct nodes it counts), the document is not a bomb: one
    cheap walk, and the exact count only past it (or for a recursive alias).
    """
    count = 0
    stack = [root]
    while stack and count < limit:
        node = stack.pop()
        count += 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return count


def _refuse_alias_bomb(root: yaml.Node, source: str) -> None:
    sizes: dict[int, int] = {}  # node -> nodes it expands to (1 while being counted)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
        elif id(node) not in sizes:
            sizes[id(node)] = 1  # guards against recursive aliases
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    total = sizes[id(root)]
    if total > _MAX_EXPANSION_RATIO * len(sizes) + _MAX_EXPANSION_SLACK:
        raise InputError(
            source,
            root.start_mark.line + 1,
            f"refusing YAML whose aliases expand {len(sizes)} nodes into {total} "
            "(a 'billion laughs' alias bomb)",
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())
