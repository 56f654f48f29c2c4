"""Kubernetes resource quantities (``500m``, ``64Gi``, ``1e3``) as numbers."""

from __future__ import annotations

import re
from typing import Any

_SUFFIX = {
    "": 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60,
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")


def parse_quantity(value: Any) -> float | None:
    """The quantity's value in base units, or None if it is not a quantity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    try:
        return float(match.group(1)) * _SUFFIX[match.group(2) or ""]
    except ValueError:
        return None


def format_bytes(value: float) -> str:
    """Bytes as the largest binary unit that keeps an integer (``48Gi``, ``1536Mi``)."""
    for unit in ("Ti", "Gi", "Mi", "Ki"):
        size = _SUFFIX[unit]
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{round(value / 2**20)}Mi" if value >= 2**20 else str(int(value))
