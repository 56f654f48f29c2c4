"""prometheus-adapter's metric discovery, emulated: which metric names its rules expose.

prometheus-adapter (kubernetes-sigs/prometheus-adapter, pkg/config and
pkg/naming) turns Prometheus series into custom and external metrics API names: a
rule's ``seriesQuery`` selects series, ``seriesFilters`` keep or drop them by
regex, and ``name.matches``/``name.as`` rename them with Go's ``Regexp.Expand``.
Its regular expressions are Go's, evaluated here with RE2 (`goregexp`); one that Go
refuses stops the adapter from loading its configuration, and is a `Problem` here.

Without Prometheus there is no list of series: `AdapterRule.exposes` answers for
the literal series name a query gives, else for the series GPU exporters publish,
else for any name a renaming template (``gpu_${1}``) could produce.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mlkube.errors import InputError
from mlkube.manifests.objects import Location, Manifest, as_str_map
from mlkube.rules.lint import goregexp
from mlkube.rules.lint.exporters import AMD_EXPORTER_METRICS, DCGM_EXPORTER_METRICS

SECTIONS = ("rules", "externalRules")
_BARE_NAME = re.compile(r"\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{|$)")
_NAME_MATCHER = re.compile(r"""__name__\s*(=~|!~|!=|=)\s*(?:"([^"]*)"|'([^']*)')""")


@dataclass(frozen=True, slots=True)
class AdapterRule:
    """One discovery rule: which series it selects, and how it names them."""

    series: str | None  # a literal series name, when the query gives one
    matchers: tuple[tuple[str, str], ...]  # (operator, value) on __name__
    filters: tuple[tuple[bool, str], ...]  # seriesFilters: (is, regex)
    matches: str
    as_: str

    def selects(self, series: str) -> bool:
        return all(_name_matcher(op, v, series) for op, v in self.matchers) and all(
            goregexp.search(rx, series) == keep for keep, rx in self.filters
        )

    def names(self, series: str) -> str | None:
        """The metric name the adapter exposes for ``series``, as Go's Regexp.Expand does."""
        found = goregexp.compile(self.matches).search(series)
        return None if found is None else goregexp.expand(self.as_, found)

    def exposes(self, name: str) -> bool:
        if "$" not in self.as_:
            return self.as_ == name
        if self.series is not None:
            return self.names(self.series) == name
        # A regex query: try the series GPU exporters publish.
        for series in (*DCGM_EXPORTER_METRICS, *AMD_EXPORTER_METRICS):
            if self.selects(series) and self.names(series) == name:
                return True
        # A renaming template (gpu_${1}) may fit series outside that list.
        parts = goregexp.references(self.as_)
        literal = "".join(p for p in parts if not p.startswith("$"))
        pattern = "".join(".+" if p.startswith("$") else _escape(p) for p in parts)
        return bool(literal) and goregexp.fullmatch(pattern, name)


@dataclass(frozen=True, slots=True)
class Problem:
    """A rule the adapter would refuse to load."""

    where: Location
    message: str


@dataclass(frozen=True, slots=True)
class AdapterConfig:
    rules: dict[str, tuple[AdapterRule, ...]]  # by section
    problems: tuple[Problem, ...]


def _escape(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else f"\\x{{{ord(c):x}}}" for c in text)


def _name_matcher(op: str, value: str, series: str) -> bool:
    if op == "=":
        return series == value
    if op == "!=":
        return series != value
    full = goregexp.fullmatch(value, series)
    return full if op == "=~" else not full


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@lru_cache(maxsize=256)
def adapter_config(config_map: Manifest) -> AdapterConfig:
    """The discovery rules in a ConfigMap's data (none unless it configures the adapter)."""
    rules: dict[str, list[AdapterRule]] = {s: [] for s in SECTIONS}
    problems: list[Problem] = []
    for key, text in as_str_map(config_map.get("data")).items():
        if not any(section in text for section in SECTIONS):
            continue
        from mlkube.manifests.yamlstream import read_text  # noqa: PLC0415 - PyYAML, when read

        try:
            docs = read_text(text, f"{config_map.source} data.{key}")
        except InputError:
            continue  # not YAML: not an adapter configuration mlkube can read
        config = docs[0].obj if docs else None
        if not isinstance(config, dict):
            continue
        for section in SECTIONS:
            for i, raw in enumerate(_list(config.get(section))):
                where = config_map.at("data", key)
                rule = _rule(raw, f"{section}[{i}]", where, problems)
                if rule is not None:
                    rules[section].append(rule)
    return AdapterConfig({s: tuple(r) for s, r in rules.items()}, tuple(problems))


def _rule(raw: Any, name: str, where: Location, problems: list[Problem]) -> AdapterRule | None:
    if not isinstance(raw, dict):
        return None
    query = str(raw.get("seriesQuery") or "")
    bare = _BARE_NAME.match(query)
    matchers = tuple((op, a or b) for op, a, b in _NAME_MATCHER.findall(query))
    series = bare.group(1) if bare else next((v for op, v in matchers if op == "="), None)
    filters = tuple(
        (key == "is", str(f[key]))
        for f in _list(raw.get("seriesFilters"))
        if isinstance(f, dict)
        for key in ("is", "isNot")
        if f.get(key)
    )
    naming = raw.get("name")
    naming = naming if isinstance(naming, dict) else {}
    matches = str(naming.get("matches") or ".*")
    patterns = [
        *((f"seriesQuery __name__{op}", v) for op, v in matchers if "~" in op),
        *((f"seriesFilters {'is' if keep else 'isNot'}", rx) for keep, rx in filters),
        ("name.matches", matches),
    ]
    for field, pattern in patterns:
        try:
            goregexp.compile(pattern)
        except goregexp.GoRegexpError as exc:
            problems.append(
                Problem(
                    where,
                    f"{name} {field} {pattern[:60]!r} is not a Go regular expression ({exc})",
                )
            )
            return None
    as_ = str(naming.get("as") or ("$1" if goregexp.groups(matches) == 1 else "$0"))
    return AdapterRule(series, matchers, filters, matches, as_)


def adapter_rules(config_maps: list[Manifest], section: str) -> Iterator[AdapterRule]:
    """The ``section`` rules (rules, externalRules) of prometheus-adapter ConfigMaps."""
    for config_map in config_maps:
        yield from adapter_config(config_map).rules[section]
