"""Doctor on mutated snapshots: whatever the file holds, ``--from`` either diagnoses it
or refuses it with one line naming the field (InputError), never a traceback.

The recorded snapshots of tests/doctor/*/ are mutated as a hand-edit, a truncated
copy or a hostile file would: values changed to another type, keys dropped, nulls
inserted. The budget is fixed and the seed derandomized, so CI runs the same cases;
``MLKUBE_FUZZ_EXAMPLES`` raises the budget for a longer local hunt. Failures found this
way are kept as plain tests in test_snapshot_regressions.py.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlkube.doctor import diagnose, examined, require_workload
from mlkube.errors import InputError, UsageError
from mlkube.report import render_findings
from mlkube.rules.doctor import RULES
from mlkube.snapshots.evidence import Evidence

FIXTURES = sorted(Path(__file__).parent.glob("*/*.json"))
TEXTS = [p.read_text() for p in FIXTURES]
EXAMPLES = int(os.environ.get("MLKUBE_FUZZ_EXAMPLES", "400"))

REPLACEMENTS: list[Any] = [
    None, 7, -1, 0, 2**63, 1.5, 1e300, True, "", "x", "1e400", "-3", "Running", [], {},
    [None], [7], ["x"], [{}], {"a": 7}, {"name": 5}, {"type": "Ready", "status": 7},
    # values of the right type at their limits: they pass the schema, the rules must cope
    "1e308", "1.7e308", 1e308, -1e308, "999999Ei", "-8", "0.0001m", 2**31 - 1, -(2**31),
    "\x1b[31mred", "a/b.c", {"type": "Ready", "status": "True"}, [{"name": "x"}],
]  # fmt: skip


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every field and item of ``value``, as paths from the root."""
    children = value.items() if isinstance(value, dict) else enumerate(value)
    found = []
    for key, child in children:
        found.append((*path, key))
        if isinstance(child, dict | list):
            found += _paths(child, (*path, key))
    return found


# Each snapshot's fields, those of the objects first (what the rules read), and the
# envelope's; a mutation picks one uniformly, so every field is changed sometime.
PATHS = [_paths(json.loads(text)) for text in TEXTS]


# A mutation: the path of a field, and what is done to it ("drop", "null-in-list" at
# an index, or "replace" with a value).
Mutation = tuple[tuple[Any, ...], str, Any]


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, list[Mutation]]:
    """A recorded snapshot (by name) and one to three changes to its fields."""
    index = draw(st.integers(0, len(FIXTURES) - 1))
    changes: list[Mutation] = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS[index]))
        action = draw(st.sampled_from(["replace", "replace", "drop", "null-in-list"]))
        argument = draw(st.sampled_from(REPLACEMENTS)) if action == "replace" else None
        if action == "null-in-list":
            argument = draw(st.integers(0, 3))
        changes.append((path, action, argument))
    return str(FIXTURES[index].relative_to(Path(__file__).parent)), changes


def mutate(fixture: str, changes: list[Mutation]) -> str:
    """The text of snapshot ``fixture`` after ``changes`` (those whose path still exists)."""
    data = json.loads((Path(__file__).parent / fixture).read_text())
    for (*steps, key), action, argument in changes:
        parent = _at(data, steps)
        if not _has(parent, key):
            continue
        if action == "drop":
            del parent[key]
        elif action == "null-in-list" and isinstance(parent[key], list):
            parent[key].insert(min(argument, len(parent[key])), None)
        elif action == "replace":
            parent[key] = copy.deepcopy(argument)
    return json.dumps(data, indent=1)


def _at(value: Any, steps: list[Any]) -> Any:
    for step in steps:
        if not _has(value, step):
            return None
        value = value[step]
    return value


def _has(container: Any, step: Any) -> bool:
    if isinstance(container, dict):
        return step in container
    return isinstance(container, list) and isinstance(step, int) and 0 <= step < len(container)


def diagnosed_or_refused(text: str, name: str | None) -> None:
    """Load, diagnose and report as the CLI does; only InputError (and UsageError for a
    name that the mutated snapshot no longer holds) may end it."""
    try:
        evidence = Evidence.parse(text, "snapshot.json")
    except InputError as exc:
        assert 1 <= exc.line <= text.count("\n") + 1
        assert "\n" not in str(exc)
        return
    if name is not None:
        try:
            require_workload(evidence, name)
        except UsageError:
            return
    findings = diagnose(evidence, name)
    for fmt in ("text", "json", "sarif"):
        chunks = render_findings(findings, fmt, RULES, objects=examined(evidence, name))
        assert "".join(chunks)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=mutations(), name=st.sampled_from([None, "dist", "filler", "oom", "batch"]))
def test_mutated_snapshot_is_diagnosed_or_refused(
    case: tuple[str, list[Mutation]], name: str | None
) -> None:
    diagnosed_or_refused(mutate(*case), name)
