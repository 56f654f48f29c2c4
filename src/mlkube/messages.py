"""Text that came from the user or the cluster, made safe to print: control characters
escaped (an object name must not move a terminal's cursor or recolour it) and long
values clipped (a 5,000-digit number is not worth echoing whole)."""

from __future__ import annotations

import re

VALUE_LIMIT = 200  # characters of one value (a word: a number, a path) kept in a message
LINE_LIMIT = 2000  # characters of a whole error line

# C0 and C1 controls and DEL; tab is kept only where it is harmless (not in one-liners).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LONG_WORD = re.compile(rf"\S{{{VALUE_LIMIT + 1},}}")


def _escape(char: str) -> str:
    code = ord(char)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    )


def printable(text: str) -> str:
    """``text`` with control characters written as escapes (``\\x1b``), newlines kept."""
    return _CONTROL.sub(lambda m: _escape(m.group()), text)


def clip(value: str, limit: int = VALUE_LIMIT) -> str:
    """``value``, or its start and end around a count of what was left out."""
    if len(value) <= limit:
        return value
    keep = max(limit - 20, 8)
    head, tail = keep * 2 // 3, keep - keep * 2 // 3
    return f"{value[:head]}…({len(value) - head - tail:,} characters)…{value[-tail:]}"


def one_line(message: str) -> str:
    """An error message as one printable line: every control character and line break
    escaped, each overlong value clipped, and the whole line bounded."""
    text = _CONTROL_OR_BREAK.sub(lambda m: _escape(m.group()), message)
    text = _LONG_WORD.sub(lambda m: clip(m.group()), text)
    return clip(text, LINE_LIMIT)
