"""Go regular expressions (``regexp``, RE2 syntax), evaluated in linear time.

Patterns written for Go programs (prometheus-adapter's ``matches`` and
``seriesFilters``, Prometheus' ``=~`` matchers) are compiled with RE2, the library
Go's ``regexp`` reimplements: the same syntax, leftmost-first semantics and
guaranteed linear-time matching, so a pattern such as ``^(([A-Z_]+)+)+[a-z]$``
cannot make lint run forever as it does with Python's backtracking ``re``.

Differences between Go's ``regexp`` and the RE2 library, and how they are handled:

- ``\\C`` (any byte) is RE2-only; Go refuses it, and so does `compile`.
- Go's ``regexp`` has no ``longest`` mode by default, nor does RE2 here
  (``longest_match`` off): both are leftmost-first, as Perl.
- Backreferences, lookaround, possessive and atomic groups are refused by both.
- Repetition counts above 1000 are refused by both.
- ``(?<name>…)`` is accepted by both (Go 1.22+); ``(?P<name>…)`` too.
- Go's ``Regexp.Expand`` is reimplemented in `expand` (``$1``, ``${name}``, ``$$``;
  a name is as long as possible and an unknown one expands to nothing).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

_REFERENCE = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


class GoRegexpError(ValueError):
    """A pattern Go's regexp.Compile refuses, with RE2's reason."""


@cache
def _re2() -> tuple[Any, Any]:
    """RE2 and its options, loaded with the first pattern: loading the rules (`mlkube
    rules`, doctor) does not pay for it."""
    import re2  # noqa: PLC0415

    options = re2.Options()
    options.log_errors = False  # RE2 would print each refused pattern to stderr
    return re2, options


@lru_cache(maxsize=1024)
def compile(pattern: str) -> Any:
    """The compiled pattern; raises GoRegexpError where Go's regexp.Compile fails."""
    if _has_byte_escape(pattern):
        raise GoRegexpError(f"invalid escape sequence: \\C in {pattern!r}")
    re2, options = _re2()
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise GoRegexpError(text) from None


def search(pattern: str, text: str) -> bool:
    return compile(pattern).search(text) is not None


def fullmatch(pattern: str, text: str) -> bool:
    """As Prometheus matches label values: the pattern anchored at both ends."""
    return compile(f"^(?:{pattern})$").search(text) is not None


def groups(pattern: str) -> int:
    return int(compile(pattern).groups)


def expand(template: str, match: Any) -> str:
    """Go's ``Regexp.Expand`` of ``template`` with the groups of ``match``."""

    def group(ref: re.Match[str]) -> str:
        key = ref.group(1) or ref.group(2)
        if key is None:
            return "$"
        try:
            value = match.group(int(key) if key.isdigit() else key)
        except (IndexError, KeyError):
            return ""
        return str(value or "")

    return _REFERENCE.sub(group, template)


def references(template: str) -> list[str]:
    """``template`` split into literal parts and ``$`` references, in order."""
    return [
        part for part in re.split(r"(\$(?:\$|\{[A-Za-z0-9_]+\}|[A-Za-z0-9_]+))", template) if part
    ]


def _has_byte_escape(pattern: str) -> bool:
    escaped = False
    for char in pattern:
        if escaped:
            if char == "C":
                return True
            escaped = False
        elif char == "\\":
            escaped = True
    return False
