"""YAML scalars read as the Kubernetes API server and kubectl read them.

Both decode YAML with sigs.k8s.io/yaml, a fork of go-yaml v2, and convert it to JSON.
That is YAML 1.1 with go-yaml's own choices, neither PyYAML's 1.1 nor YAML 1.2:

- ``yes``/``no``/``on``/``off``/``y``/``n`` (in three spellings each) are booleans, as
  keys too, where they then become the JSON keys ``"true"``/``"false"``;
- no sexagesimal numbers: ``1:30``, ``12:30`` and ``22:22`` are strings;
- integers as Go's ``strconv.ParseInt(s, 0, 64)`` reads them after dropping ``_``:
  ``0x1F``, ``0o17``, ``0b101``, and a leading ``0`` for octal; out-of-range integers
  that fit no float are big integers; ``08`` is the float 8;
- floats need digits (``1e3``, ``.5``); ``.inf``/``.nan`` only in the spellings of
  `_MAP`; a float that overflows (``1e400``) is a string;
- timestamps stay strings (go-yaml v2 keeps them as written when decoding into
  ``interface{}``).

Mirrors ``resolve`` in sigs.k8s.io/yaml/goyaml.v2/resolve.go, and the map-key
conversion of ``convertToJSONableObject`` in sigs.k8s.io/yaml/yaml.go.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"
TIMESTAMP = "tag:yaml.org,2002:timestamp"
BINARY = "tag:yaml.org,2002:binary"
# The tag of an untagged plain scalar: resolved here, by go-yaml's rules, not PyYAML's.
PLAIN = "tag:mlkube.dev,2026:plain"
RESOLVABLE = frozenset({STR, INT, FLOAT, BOOL, NULL, TIMESTAMP})

_MAP: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), (BOOL, True)),
    **dict.fromkeys(("on", "On", "ON"), (BOOL, True)),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), (BOOL, False)),
    **dict.fromkeys(("off", "Off", "OFF"), (BOOL, False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (NULL, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (FLOAT, math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (FLOAT, math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (FLOAT, -math.inf)),
    "<<": (MERGE, "<<"),
}
_MAP_HINT = frozenset("yYnNtTfFoO~")
_NUMBER_HINT = frozenset("+-0123456789")
# Go's integer literal syntax (strconv.ParseInt with base 0), underscores removed.
_GO_INT = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)\Z")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
# strconv.ParseFloat on a string starting with '.': digits with Go's '_' separators.
_DOT_FLOAT = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?\Z")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1
# Python refuses to convert longer digit strings (sys.get_int_max_str_digits).
MAX_DIGITS = 4300


def resolve(text: str) -> tuple[str, Any]:
    """The tag and value go-yaml gives the untagged plain scalar ``text``.

    Raises ValueError for an integer too long to convert (over `MAX_DIGITS` digits).
    """
    hint = text[:1]
    if text in _MAP:
        return _MAP[text]
    if hint == ".":
        if _DOT_FLOAT.match(text):
            value = float(text.replace("_", ""))
            if not math.isinf(value):
                return FLOAT, value
    elif hint in _NUMBER_HINT:
        number = _number(text.replace("_", ""))
        if number is not None:
            return (INT if isinstance(number, int) else FLOAT), number
    return STR, text


def _number(plain: str) -> int | float | None:
    unsigned_range_error = False
    if _GO_INT.match(plain):
        value = _go_int(plain)
        if _INT64[0] <= value <= _INT64[1]:
            return value
        if plain[0] not in "+-":  # strconv.ParseUint takes no sign
            if value <= _UINT64_MAX:
                return value
            unsigned_range_error = True
    if _YAML_FLOAT.match(plain):
        number = float(plain)
        if not math.isinf(number):  # Go's ParseFloat fails with ErrRange
            return number
    if unsigned_range_error:  # go-yaml falls back to a big.Int
        return _go_int(plain)
    return None


def _go_int(plain: str) -> int:
    if len(plain) > MAX_DIGITS:
        raise ValueError(f"a number of {len(plain)} digits: more than mlkube reads ({MAX_DIGITS})")
    sign = -1 if plain[0] == "-" else 1
    digits = plain.lstrip("+-")
    prefix = digits[:2].lower()
    if prefix in ("0x", "0b", "0o"):
        return sign * int(digits[2:], {"0x": 16, "0b": 2, "0o": 8}[prefix])
    if len(digits) > 1 and digits[0] == "0":
        return sign * int(digits, 8)
    return sign * int(digits)


def explicit(tag: str, text: str) -> tuple[str, Any] | str:
    """A scalar tagged ``!!int``, ``!!bool``, …: its value, or go-yaml's error message."""
    if tag == STR:
        return STR, text
    resolved, value = resolve(text)
    if tag in (resolved, TIMESTAMP):
        return tag, value if tag != TIMESTAMP else text
    if tag == FLOAT and resolved == INT:
        return FLOAT, float(value)
    return f"cannot decode !!{_short(resolved)} `{text}` as a !!{_short(tag)}"


def _short(tag: str) -> str:
    return tag.rpartition(":")[2]


def json_key(value: Any) -> str | None:
    """A mapping key as sigs.k8s.io/yaml turns it into a JSON key; None if it cannot."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float32_g(value)
    return None


def _go_float32_g(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 32)``, with go-yaml's spellings of inf and nan."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    try:
        single = _float32(value)
    except OverflowError:
        single = math.copysign(math.inf, value)
    if math.isinf(single):  # beyond float32
        return "+Inf" if value > 0 else "-Inf"
    if single == 0:
        return "-0" if math.copysign(1, single) < 0 else "0"
    for precision in range(9):  # the shortest decimal that reads back as this float32
        text = f"{single:.{precision}e}"
        if _float32(float(text)) == single:
            break
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text)
    sign = "-" if mantissa.startswith("-") else ""
    figures = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    if exponent < -4 or exponent >= 6:  # %e form, as Go's shortest %g decides
        head = figures[0] + ("." + figures[1:] if len(figures) > 1 else "")
        return f"{sign}{head}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{figures}"
    whole = figures[: exponent + 1].ljust(exponent + 1, "0")
    rest = figures[exponent + 1 :]
    return f"{sign}{whole}{'.' + rest if rest else ''}"


def _float32(value: float) -> float:
    result: float = struct.unpack("f", struct.pack("f", value))[0]
    return result
