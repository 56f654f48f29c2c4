"""The ``--prices`` file: ``{pool: {onDemand: X, spot: Y}}`` per GPU-hour, YAML or JSON.
A pool's price is its ``spot`` price when the pool is spot, else ``onDemand``."""

from __future__ import annotations

import math

import yaml

from mlkube.errors import InputError
from mlkube.plan.model import Prices

_KEYS = {"onDemand", "spot"}


def read_prices(path: str, pools: set[str]) -> dict[str, Prices]:
    with open(path, encoding="utf-8") as fh:
        try:
            text = fh.read()
        except UnicodeDecodeError:
            raise InputError(path, 1, "not UTF-8 text") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(path, mark.line + 1 if mark else 1, "not YAML or JSON") from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise InputError(path, root.start_mark.line + 1, "expected {pool: {onDemand: X, spot: Y}}")
    out: dict[str, Prices] = {}
    for key, value in root.value:
        line = key.start_mark.line + 1
        pool = str(key.value)
        if pool not in pools:
            raise InputError(path, line, f"unknown pool {pool[:60]!r}")
        if not isinstance(value, yaml.MappingNode):
            raise InputError(path, line, f"{pool}: expected {{onDemand: X, spot: Y}}")
        numbers: dict[str, float] = {}
        for k, v in value.value:
            name = str(k.value)
            where = k.start_mark.line + 1
            if name not in _KEYS:
                raise InputError(path, where, f"{pool}.{name[:40]}: unknown (onDemand or spot)")
            try:
                number = float(v.value) if isinstance(v, yaml.ScalarNode) else math.nan
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or number < 0:
                raise InputError(path, where, f"{pool}.{name}: expected a price >= 0 per GPU-hour")
            numbers[name] = number
        out[pool] = Prices(on_demand=numbers.get("onDemand", 0.0), spot=numbers.get("spot", 0.0))
    return out
