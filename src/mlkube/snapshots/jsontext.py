"""JSON read as a snapshot file: bounded nesting, no NaN, and the line of any field.

The standard library parses (in C, fast); the line of a field is found only when an
error needs it, by walking the text to that field and skipping every other value with
the same parser (``raw_decode``), so a 50 MB snapshot costs nothing extra when it is good.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from mlkube.errors import InputError

# Kubernetes objects nest about 15 levels (a pod template in a job in a list); a
# snapshot adds three. Deeper input is not a snapshot, and would recurse without end.
MAX_DEPTH = 64
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class _Refused(ValueError):
    """A value JSON allows but a snapshot cannot hold, and the text it was read from."""

    def __init__(self, token: str, problem: str) -> None:
        super().__init__(problem)
        self.token, self.problem = token, problem


def parse(text: str, source: str) -> Any:
    """The JSON value of ``text`` (without null members), or an InputError naming the
    line of the problem."""
    try:
        value = json.loads(text, parse_constant=_constant, parse_int=_integer, parse_float=_float)
    except RecursionError:
        raise _too_deep(text, source) from None
    except json.JSONDecodeError as exc:
        raise InputError(source, exc.lineno, f"not JSON: {exc.msg}") from None
    except _Refused as exc:
        raise InputError(source, _line_of_token(text, exc.token), exc.problem) from None
    if _depth(value) > MAX_DEPTH:
        raise _too_deep(text, source)
    if _SURROGATE.search(text) and _has_lone_surrogate(value):
        line = line_at(text, _SURROGATE.search(text).start())  # type: ignore[union-attr]
        raise InputError(source, line, "not JSON text: a string holds half of a UTF-16 pair")
    return value


def _constant(name: str) -> Any:
    raise _Refused(name, f"not JSON: {name} is not a JSON number")


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > 20:  # int64 has 19
        raise _Refused(digits, f"a number of {len(digits)} digits, past any Kubernetes field")
    return int(digits)


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(text, f"{text[:30]} is out of the range of a number")
    return number


def _line_of_token(text: str, token: str) -> int:
    match = re.search(rf"(?<![\w.\"]){re.escape(token)}(?![\w.])", text)
    return line_at(text, match.start()) if match else 1


# A \u escape of half a UTF-16 surrogate pair: alone, it decodes to a string that no
# terminal or file can encode.
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def _depth(value: Any) -> int:
    """How deeply ``value`` nests, without recursing; drops null members of objects on
    the way, as Kubernetes reads a null field as an unset one."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            for key in [k for k, v in item.items() if v is None]:
                del item[key]
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _too_deep(text: str, source: str) -> InputError:
    depth = 0
    for match in _BRACKETS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return InputError(
                    source, line_at(text, match.start()), f"nested deeper than {MAX_DEPTH} levels"
                )
        elif token in "]}":
            depth -= 1
    return InputError(source, 1, f"nested deeper than {MAX_DEPTH} levels")


def _skip(text: str, index: int) -> int:
    """The index of the first non-space character from ``index``."""
    while index < len(text) and text[index] in " \t\n\r":
        index += 1
    return index


def line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def line_of(text: str, path: Sequence[str | int]) -> int:
    """The line where the value at ``path`` starts (or its deepest existing parent).

    Keys repeated in one object resolve to the last one, as ``json.loads`` keeps it.
    """
    decoder = json.JSONDecoder()
    index = _skip(text, 0)
    for step in path:
        found = _child(decoder, text, index, step)
        if found is None:
            break
        index = found
    return line_at(text, index)


def _child(decoder: json.JSONDecoder, text: str, index: int, step: str | int) -> int | None:
    """Where the value of key or index ``step`` of the container at ``index`` starts."""
    opening = text[index : index + 1]
    if opening not in ("{", "[") or (opening == "{") != isinstance(step, str):
        return None
    found: int | None = None
    position = 0
    index = _skip(text, index + 1)
    while index < len(text) and text[index] not in "]}":
        key: str | int = position
        if opening == "{":
            key, index = decoder.raw_decode(text, index)
            index = _skip(text, index) + 1  # past ':'
            index = _skip(text, index)
        if key == step:
            found = index
            if opening == "[":
                return found
        _, index = decoder.raw_decode(text, index)
        index = _skip(text, index)
        if text[index : index + 1] == ",":
            index = _skip(text, index + 1)
        position += 1
    return found
