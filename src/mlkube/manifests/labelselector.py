"""kubectl's ``-l/--selector`` text, parsed and matched locally (for objects that are
not on a server yet: ``apply -l``). The grammar is apimachinery's
(k8s.io/apimachinery/pkg/labels/selector.go): requirements joined by commas, each
``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``,
``key in (a,b)`` or ``key notin (a,b)``; all must hold."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from mlkube.errors import UsageError

Matcher = Callable[[Mapping[str, str]], bool]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"\s*({_KEY})\s+(in|notin)\s*\(([^)]*)\)\s*")
_EQ = re.compile(rf"\s*({_KEY})\s*(==|=|!=)\s*({_VALUE})\s*")
_EXISTS = re.compile(rf"\s*(!?)\s*({_KEY})\s*")


def _split(text: str) -> list[str]:
    """Requirements: commas split them, except inside ``( )``."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _requirement(text: str) -> Matcher:
    if m := _SET.fullmatch(text):
        key, op = m.group(1), m.group(3)
        values = {v.strip() for v in m.group(4).split(",")}
        if not all(re.fullmatch(_VALUE, v) for v in values):
            raise UsageError(f"-l {text.strip()!r}: not a label value in ( )")
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ.fullmatch(text):
        key, op, value = m.group(1), m.group(3), m.group(4)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS.fullmatch(text):
        negated, key = m.group(1) == "!", m.group(2)
        return lambda labels: (key in labels) != negated
    raise UsageError(
        f"-l {text.strip()!r}: not a label selector (key=value, key!=value, key in (a,b), "
        "key notin (a,b), key, !key)"
    )


def parse(text: str) -> Matcher:
    """A function of an object's labels: does the selector hold for them?"""
    if not text.strip():
        raise UsageError("-l '': an empty selector; give key=value, …")
    requirements = [_requirement(part) for part in _split(text)]
    return lambda labels: all(r(labels) for r in requirements)
