"""Property-based fuzzing of what users feed mlkube: YAML bytes, quantities, specs and
manifests mutated as a tired user or an attacker would.

The property: mlkube either works or fails with one of its own typed errors (exit
code 2 from the CLI); it never raises anything else, never hangs, and exit codes stay
in {0, 1, 2}. The budget is fixed and the search derandomized, so CI runs the same
examples every time; failures found here are kept as plain tests in
test_hostile_input.py.
"""

from __future__ import annotations

import contextlib
import decimal
import io
import math
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlkube.cli.main import main
from mlkube.errors import MlkubeError
from mlkube.manifests.yamlstream import read_stream
from mlkube.quantity import quantity
from mlkube.render import render_paths
from mlkube.spec import load_specs

from ..conftest import EXAMPLES, ROOT

# A fixed budget for CI; MLKUBE_FUZZ_EXAMPLES=2000 searches deeper on a workstation.
BUDGET = settings(
    max_examples=int(os.environ.get("MLKUBE_FUZZ_EXAMPLES", "60")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MANIFESTS = sorted((ROOT / "tests" / "golden").glob("*.yaml")) + sorted(
    (ROOT / "tests" / "rules").glob("*/fires.yaml")
)
SPECS = sorted(EXAMPLES.glob("*.yaml"))
# Raw YAML text that means something odd to a YAML 1.1 reader, go-yaml or Kubernetes.
ODD_VALUES = [
    ".inf", "-.Inf", ".nan", "1e400", "-1e400", "1e-400", "1:30", "22:22", "yes", "on",
    "y", "~", "null", "''", "[]", "{}", "[1, [2, [3]]]", "{a: {b: c}}", "!!binary abc",
    "!!binary aGk=", "!!int x", "!!float x", "!!str 3", "!!bool maybe", "!custom tag",
    "0x1F", "0o17", "0777", "08", "1_000", "+", "-", ".", "three", "500mi", "1.5", "-1",
    "2147483648", "9223372036854775808", "9" * 400, "9" * 4000, "-0", "0.0", "true",
    "2001-12-14", "!!timestamp 2001-12-14", "'\u202e\x1b[31mred'", '"\\x00"', "&a [*a]",
    "*undefined", "|\n  block", ">-\n  folded", "<<: {a: 1}", "{<<: [1, 2]}",
]  # fmt: skip
ODD_KEYS = ["~", "1.5", "on", "y", "[a]", "{a: 1}", "1e400", "'spec'", "? complex", "<<"]


def _quiet_main(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path in a YAML tree (iteratively: mutants may be deep)."""
    out: list[tuple[Any, ...]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        out.append(where)
        if isinstance(node, dict):
            stack.extend((v, (*where, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(node))
    return out


_MARK = "MLKUBE-FUZZ-PLACEHOLDER"


def _mutate(docs: list[Any], data: st.DataObject) -> str:
    """The documents with one to three mutations, as YAML text."""
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        index = data.draw(st.integers(0, len(docs) - 1), label="document")
        paths = [p for p in _paths(docs[index]) if p]
        if not paths:
            continue
        path = data.draw(st.sampled_from(paths), label="path")
        parent = docs[index]
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = data.draw(st.sampled_from(["value", "delete", "key", "wrap"]), label="action")
        if action == "delete" and isinstance(parent, dict):
            del parent[last]
        elif action == "key" and isinstance(parent, dict):
            parent[_MARK + "K"] = parent.pop(last)
        elif action == "wrap":
            parent[last] = [parent[last]] if data.draw(st.booleans()) else {"x": parent[last]}
        else:
            parent[last] = _MARK + "V"
    text = yaml.safe_dump_all(docs, sort_keys=False, width=10**6)
    value = data.draw(st.sampled_from(ODD_VALUES), label="odd value")
    key = data.draw(st.sampled_from(ODD_KEYS), label="odd key")
    if "\n" in value:  # a block scalar must sit at the end of its line
        value = value.replace("\n", "\n" + " " * 40)
    return (
        text.replace(f"'{_MARK}V'", value)
        .replace(_MARK + "V", value)
        .replace(f"'{_MARK}K'", key)
        .replace(_MARK + "K", key)
    )


@BUDGET
@given(st.binary(max_size=300))
def test_yaml_reader_on_any_bytes(raw: bytes) -> None:
    try:
        for _doc in read_stream(io.BytesIO(raw), "fuzz.yaml"):
            pass
    except MlkubeError:
        pass


@BUDGET
@given(
    st.lists(
        st.tuples(st.sampled_from([*ODD_KEYS, "a", "b"]), st.sampled_from(ODD_VALUES)),
        min_size=1,
        max_size=6,
    )
)
def test_yaml_reader_on_odd_scalars(pairs: list[tuple[str, str]]) -> None:
    text = "".join(f"{k}: {v}\n" for k, v in pairs)
    try:
        for doc in read_stream(io.BytesIO(text.encode()), "fuzz.yaml"):
            assert all(isinstance(k, str) for k in (doc.obj or {}))  # keys as JSON has them
    except MlkubeError:
        pass


_SUFFIXES = {"": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15}


@BUDGET
@given(
    st.sampled_from(["", "+", "-"]),
    st.text("0123456789", min_size=1, max_size=25),
    st.text("0123456789", max_size=12),
    st.sampled_from([*_SUFFIXES, "Ki", "Mi", "Gi", "Ti", "e3", "E-2", "e+7"]),
)
def test_quantities_are_exact_decimals(sign: str, whole: str, fraction: str, suffix: str) -> None:
    """Against the grammar of resource.Quantity: value = number x suffix, rounded up
    (away from zero) to a nano, binary suffixes capped at 2^63-1."""
    text = f"{sign}{whole}{'.' + fraction if fraction else ''}{suffix}"
    with decimal.localcontext(prec=200):  # exact for these sizes
        number = Decimal(f"{sign}{whole}.{fraction or '0'}")
        if suffix in _SUFFIXES:
            expected = number.scaleb(_SUFFIXES[suffix])
        elif suffix.endswith("i"):
            expected = number * 1024 ** ("KMGT".index(suffix[0]) + 1)
        else:
            expected = number.scaleb(int(suffix[1:]))
        nanos = expected.scaleb(9)
        rounded = Decimal(math.ceil(nanos) if nanos > 0 else math.floor(nanos)).scaleb(-9)
        if suffix.endswith("i"):
            rounded = max(min(rounded, Decimal(2**63 - 1)), Decimal(-(2**63 - 1)))
    assert quantity(text) == rounded


@BUDGET
@given(st.text(max_size=20))
def test_quantity_never_raises(text: str) -> None:
    value = quantity(text)
    assert value is None or value.is_finite()


@BUDGET
@given(st.sampled_from(SPECS), st.data())
def test_specs_survive_mutation(path: Path, data: st.DataObject) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    mutated = _mutate(docs, data)
    try:
        docs_read = list(read_stream(io.BytesIO(mutated.encode()), "fuzz-spec.yaml"))
        load_specs(docs_read)
    except MlkubeError:
        pass


@BUDGET
@given(st.sampled_from(SPECS), st.data())
def test_render_of_mutated_specs_fails_only_with_input_errors(
    tmp_path_factory: Any, path: Path, data: st.DataObject
) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    folder = tmp_path_factory.mktemp("spec")
    (folder / "platform.yaml").write_text((EXAMPLES / "platform.yaml").read_text())
    (folder / path.name).write_text(_mutate(docs, data))
    with contextlib.suppress(MlkubeError):
        render_paths([str(folder)])


@BUDGET
@given(st.sampled_from(MANIFESTS), st.data())
def test_lint_of_mutated_manifests(tmp_path_factory: Any, path: Path, data: st.DataObject) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    target = tmp_path_factory.mktemp("lint") / "mutant.yaml"
    target.write_text(_mutate(docs, data))
    code, err = _quiet_main("lint", str(target))
    assert code in (0, 1, 2), err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
