"""YAML streams with line numbers, read safely and lazily.

Documents are composed by libyaml (C speed) into node trees and converted to plain
Python data here, so that every object keeps its node tree and any field path can be
mapped back to a line. A stream is read one document at a time: a 50 MB Helm render
never sits in memory as objects all at once.

Aliases are shared, not copied, and a document whose aliases would expand to far more
nodes than it holds (a "billion laughs" bomb) is refused before anything walks it.
"""

from __future__ import annotations

import base64
import io
import os
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from mlkube.errors import InputError

FieldPath = tuple[str | int, ...]

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SNIFF_BYTES = 8192
_YAML_SUFFIXES = (".yaml", ".yml", ".json")
# A document may reuse its own nodes through aliases, but not blow up: past this ratio
# of expanded to distinct nodes it is an alias bomb, whatever its absolute size.
_MAX_EXPANSION_RATIO = 10
_MAX_EXPANSION_SLACK = 10_000

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_BINARY = "tag:yaml.org,2002:binary"


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: its data, where it came from, and its node tree for lines."""

    obj: Any
    source: str
    node: yaml.Node

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def line_of(self, path: Iterable[str | int]) -> int:
        """The line of ``path``: its key's line, or that of its deepest existing parent."""
        node, line = self.node, self.node.start_mark.line
        for step in path:
            found = _child(node, step)
            if found is None:
                break
            line, node = found
        return line + 1


def _child(node: yaml.Node, step: str | int) -> tuple[int, yaml.Node] | None:
    """The child at ``step`` and the (0-based) line that names it."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                return key.start_mark.line, value
    elif (
        isinstance(node, yaml.SequenceNode)
        and isinstance(step, int)
        and 0 <= step < len(node.value)
    ):
        item: yaml.Node = node.value[step]
        return item.start_mark.line, item
    return None


def read_stream(stream: BinaryIO, source: str) -> Iterator[Document]:
    """Documents of one YAML stream; raises InputError naming ``source`` and a line."""
    head = stream.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise InputError(source, 1, "not a YAML file: binary data (NUL byte)")
    try:
        for node in yaml.compose_all(_Rejoined(head, stream), Loader=_LOADER):
            memo: dict[int, Any] = {}
            obj = _construct(node, memo, source)
            if len(memo) < _count_visits(node, limit=len(memo) + 1):  # aliases in use
                _refuse_alias_bomb(node, source)
            yield Document(obj, source, node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = f"invalid YAML: {exc.problem or exc.context}"
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


def _count_visits(root: yaml.Node, limit: int) -> int:
    """Nodes visited walking the tree as if aliases were copies, stopping past ``limit``.

    Equal to the number of distinct nodes exactly when the document uses no alias, the
    common case, which then costs one cheap walk and no expansion arithmetic.
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
    sizes: dict[int, int] = {}

    def expanded(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        sizes[key] = 1  # guards against recursive aliases
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(expanded(k) + expanded(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(expanded(v) for v in node.value)
        else:
            total = 1
        sizes[key] = total
        return total

    total = expanded(root)
    if total > _MAX_EXPANSION_RATIO * len(sizes) + _MAX_EXPANSION_SLACK:
        raise InputError(
            source,
            root.start_mark.line + 1,
            f"refusing YAML whose aliases expand {len(sizes)} nodes into {total} "
            "(a 'billion laughs' alias bomb)",
        )


def _construct(node: yaml.Node, memo: dict[int, Any], source: str) -> Any:
    key = id(node)
    if key in memo:
        return memo[key]
    if isinstance(node, yaml.ScalarNode):
        value = _scalar(node, source)
    elif isinstance(node, yaml.SequenceNode):
        value = memo[key] = []
        value.extend(_construct(item, memo, source) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        value = memo[key] = {}
        for k, v in node.value:
            if k.tag == _MERGE:
                for merged in v.value if isinstance(v, yaml.SequenceNode) else [v]:
                    base = _construct(merged, memo, source)
                    if isinstance(base, dict):
                        for name, item in base.items():
                            value.setdefault(name, item)
                continue
            name = _construct(k, memo, source)
            if isinstance(name, list | dict):
                raise InputError(source, k.start_mark.line + 1, "a mapping key must be a scalar")
            value[name] = _construct(v, memo, source)
    else:  # pragma: no cover - libyaml produces only the three node kinds
        raise InputError(source, node.start_mark.line + 1, "unsupported YAML node")
    memo[key] = value
    return value


def _scalar(node: yaml.ScalarNode, source: str) -> Any:
    text: str = node.value
    tag = node.tag
    try:
        if tag == _INT:
            return _yaml_int(text)
        if tag == _FLOAT:
            return _yaml_float(text)
    except ValueError:
        raise InputError(source, node.start_mark.line + 1, f"bad number {text!r}") from None
    if tag == _BOOL:
        return text.lower() in ("true", "yes", "on")
    if tag == _NULL:
        return None
    if tag == _BINARY:
        return base64.b64encode(base64.b64decode(text)).decode()
    return text  # strings, and timestamps kept as written (as Kubernetes does)


def _yaml_int(text: str) -> int:
    clean = text.replace("_", "")
    sign = -1 if clean.startswith("-") else 1
    digits = clean.lstrip("+-")
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if digits.startswith("0b"):
        return sign * int(digits[2:], 2)
    if len(digits) > 1 and digits.startswith("0"):
        return sign * int(digits, 8)
    return sign * int(digits)


def _yaml_float(text: str) -> float:
    clean = text.replace("_", "").lower()
    if clean in (".inf", "+.inf"):
        return float("inf")
    if clean == "-.inf":
        return float("-inf")
    if clean == ".nan":
        return float("nan")
    return float(clean)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
