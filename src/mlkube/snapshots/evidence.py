"""What doctor reads: a plain snapshot of a cluster's ML objects, without I/O.

Gathered by `mlkube.cluster.evidence`, or loaded from a file written by `--save`;
the diagnosis rules import only this module, never the HTTP client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkube.errors import InputError
from mlkube.manifests.objects import format_path
from mlkube.messages import clip
from mlkube.snapshots import jsontext

if TYPE_CHECKING:  # pydantic and the schema load when a file is read (`Evidence.parse`)
    from pydantic import ValidationError

GPU_OPERATOR_NAMESPACE = "gpu-operator"
# 100,000 pods make about 600 MB of JSON; a larger file is not a snapshot `--save` wrote.
LARGEST_FILE = 2**30


@dataclass
class Evidence:
    """Objects by ``apiVersion/kind``; kinds the cluster does not serve are absent."""

    context: str
    namespace: str | None
    taken: str
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    calls: int = 0
    # Kinds served but not readable by this identity (forbidden, say): key → why.
    unreadable: dict[str, str] = field(default_factory=dict)

    def of(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        return self.objects.get(f"{api_version}/{kind}", [])

    def serves(self, api_version: str, kind: str) -> bool:
        return f"{api_version}/{kind}" not in self.missing

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True)

    @classmethod
    def load(cls, path: str) -> Evidence:
        """A snapshot saved by ``--save``, checked against `schema` (InputError if bad)."""
        try:
            with Path(path).open("rb") as file:
                raw = file.read(LARGEST_FILE + 1)  # /dev/zero is not a snapshot
        except OSError as exc:
            raise InputError(path, 0, f"cannot read: {exc.strerror}") from None
        if len(raw) > LARGEST_FILE:
            raise InputError(path, 0, "larger than 1 GiB: not an mlkube doctor snapshot")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise InputError(path, line, "not an mlkube doctor snapshot: not UTF-8") from None
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, source: str) -> Evidence:
        from pydantic import ValidationError  # noqa: PLC0415 - only a file needs the schema

        from mlkube.snapshots import schema  # noqa: PLC0415

        data = jsontext.parse(text, source)
        if not isinstance(data, dict):
            raise InputError(source, 1, "not an mlkube doctor snapshot: not a JSON object")
        try:
            envelope = schema.Envelope.model_validate(data)
        except ValidationError as exc:
            raise _invalid(exc, (), data, text, source) from None
        for key, items in data.get("objects", {}).items():
            # Any other kind is an owner a pod's walk may pass: its metadata is read.
            adapter = schema.ADAPTERS.get(key, schema.OWNERS)
            try:
                adapter.validate_python(items)
            except ValidationError as exc:
                raise _invalid(exc, ("objects", key), data, text, source) from None
        return cls(
            envelope.context,
            envelope.namespace,
            envelope.taken,
            data.get("objects", {}),
            envelope.missing,
            envelope.calls,
        )


def _invalid(
    exc: ValidationError, base: tuple[str | int, ...], data: Any, text: str, source: str
) -> InputError:
    """The first schema error as one line: the field's path, its line, the problem."""
    error = exc.errors()[0]
    loc = error["loc"][:-1] if _quantity_union(error) else error["loc"]
    path = _present(data, (*base, *loc))
    return InputError(source, jsontext.line_of(text, path), f"{_shown(path)}: {_problem(error)}")


_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
               float: "a number", bool: "a boolean"}  # fmt: skip
_EXPECTED = {
    "model_type": "an object", "dict_type": "an object", "list_type": "a list",
    "string_type": "a string", "int_type": "an integer", "float_type": "a number",
}  # fmt: skip


def _problem(error: Any) -> str:
    kind = error["type"]
    found = _JSON_TYPES.get(type(error.get("input")), "a value")
    if kind == "missing":
        return "missing (every snapshot and object has it)"
    if _quantity_union(error):
        return f"expected a quantity (a string like '8Gi' or a number), found {found}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, found {found}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return str(error["msg"]).lower()


def _quantity_union(error: Any) -> bool:
    """Whether pydantic tells a Quantity's members apart (its loc ends in their names)."""
    return bool(error["loc"]) and error["loc"][-1] in ("str", "int", "float")


def _present(data: Any, loc: Any) -> tuple[str | int, ...]:
    """The steps of ``loc`` that exist in ``data`` (pydantic adds union tags and missing
    keys), plus a missing key itself, so the message names the field."""
    path: list[str | int] = []
    for step in loc:
        if isinstance(data, dict) and isinstance(step, str):
            path.append(step)
            if step not in data:
                break
            data = data[step]
        elif isinstance(data, list) and isinstance(step, int) and 0 <= step < len(data):
            path.append(step)
            data = data[step]
        else:
            break
    return tuple(path)


def _shown(path: tuple[str | int, ...]) -> str:
    """A field path for a one-line message: long or odd keys clipped and escaped."""
    steps = [s if isinstance(s, int) else clipped(s) for s in path]
    return format_path(steps) or "the snapshot"


def clipped(key: str) -> str:
    """``key`` fit for one line on a terminal: escapes shown, at most 60 characters."""
    return clip(key if key.isprintable() else key.encode("unicode_escape").decode("ascii"), 60)
