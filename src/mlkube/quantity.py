"""Kubernetes numbers, parsed as the API server parses them, in one place.

Quantities (``500m``, ``64Gi``, ``1e3``) follow ``resource.ParseQuantity`` in
k8s.io/apimachinery/pkg/api/resource/quantity.go and suffix.go:

- ``<sign><digits>[.<digits>]<suffix>``, the suffix one of ``n u m "" k M G T P E``,
  ``Ki Mi Gi Ti Pi Ei``, or an exponent ``e<int>``/``E<int>`` (read as an int64, then
  truncated to int32, as Go's ``int32(parsed)`` does); anything else (``500mi``,
  ``1.5.5``, ``.inf``) is not a quantity;
- exact decimals, never floats; a non-zero value is rounded up (away from zero) to
  the nearest nano; a binary-suffixed value is capped at 2^63-1;
- a JSON number is read from its text, so the YAML number ``1.5`` is ``1.5``.

Integers the API declares as int32 or int64 (``replicas``, ``parallelism``) are JSON
numbers with an integral value in range: ``3`` and ``3.0`` are both 3, ``1.5`` and
``"3"`` are not integers.
"""

from __future__ import annotations

import decimal
import math
import re
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

_DECIMAL_SUFFIX = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIX = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
# parseQuantityString's scanner: number, then suffix letters, then a signed integer.
_SCAN = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*(?:[-+]?[0-9]+)?)\Z")
_NANO = Decimal("1e-9")
_MAX_BINARY = Decimal(2**63 - 1)
# Exact arithmetic whatever the exponent: 1e2147483647 is a (silly) valid quantity.
Number = int | float | Decimal | Fraction
_EXACT = decimal.Context(prec=200, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])


def quantity(value: Any) -> Decimal | None:
    """The exact value of a Kubernetes quantity in base units, or None if it is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = repr(value)  # the shortest text that reads back, as Go's JSON writes it
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    return _parse(text)


@lru_cache(maxsize=4096)  # manifests repeat the same few quantities ("8Gi", "1")
def _parse(text: str) -> Decimal | None:
    match = _SCAN.match(text)
    if not text or match is None:
        return None
    sign, whole, fraction, suffix = match.groups()
    fraction = fraction or ""
    if suffix in _DECIMAL_SUFFIX:
        base, exponent = 10, _DECIMAL_SUFFIX[suffix]
    elif suffix in _BINARY_SUFFIX:
        base, exponent = 2, _BINARY_SUFFIX[suffix]
    elif len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[-+]?[0-9]+", suffix[1:]):
        parsed = int(suffix[1:])
        if not INT64[0] <= parsed <= INT64[1]:
            return None  # strconv.ParseInt(…, 10, 64) fails
        base, exponent = 10, (parsed + 2**31) % 2**32 - 2**31  # int32(parsed)
    else:
        return None
    digits = (whole + fraction).lstrip("0")
    if not digits:
        return Decimal(0)
    amount = Decimal(f"{sign}{digits}E{exponent - len(fraction) if base == 10 else -len(fraction)}")
    with decimal.localcontext(_EXACT) as ctx:
        ctx.prec = len(digits) + 30
        if base == 2:
            amount = amount * (2**exponent)
        if amount.as_tuple().exponent < -9:  # type: ignore[operator]
            amount = amount.quantize(_NANO, rounding=decimal.ROUND_UP)
        if base == 2 and abs(amount) > _MAX_BINARY:
            amount = _MAX_BINARY.copy_sign(amount)
    return amount if amount.is_finite() else None


def parse_quantity(value: Any) -> float | None:
    """A quantity as an approximate float (±inf beyond float range), or None.

    Like ``Quantity.AsApproximateFloat64``; for comparisons and sums that must be
    exact, or values that may be huge, use `quantity`.
    """
    exact = quantity(value)
    if exact is None:
        return None
    try:
        return float(exact)
    except OverflowError:  # pragma: no cover - float() of a Decimal saturates to inf
        return math.inf if exact > 0 else -math.inf


def whole_number(value: Any, bounds: tuple[int, int] = INT32) -> int | None:
    """``value`` as the integer the API server decodes (int32 by default), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    return value if bounds[0] <= value <= bounds[1] else None


def format_bytes(value: Number) -> str:
    """Bytes as the largest binary unit that keeps an integer (``48Gi``, ``1536Mi``)."""
    whole = math.ceil(_finite(value))
    for unit, shift in (("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)):
        if whole >= 1 << shift and whole % (1 << shift) == 0:
            return f"{whole >> shift}{unit}"
    return f"{(whole + (1 << 19)) >> 20}Mi" if whole >= 1 << 20 else str(whole)


def format_cores(value: Number) -> str:
    """CPU as whole cores when it is whole, else millicores (``8``, ``1500m``)."""
    millis = round(_finite(value) * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _finite(value: Number) -> Fraction:
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise ValueError(f"not a finite quantity: {value}")
    return Fraction(value)
