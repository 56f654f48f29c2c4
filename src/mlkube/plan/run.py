"""The plan a user asks for, from files: read the trace once, then build and simulate
each Platform on it. One function, so that `mlkube plan` and `mlkube.api.plan` are the
same thing; the hooks let the CLI show how far it is without any I/O here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mlkube.plan.model import build_model
from mlkube.plan.prices import read_prices
from mlkube.plan.simulate import Watch, simulate
from mlkube.plan.trace import Seen, read_trace, validate
from mlkube.plan.types import PlanResult
from mlkube.spec.load import load_platform
from mlkube.spec.models import Platform


def plan_files(
    platforms: Sequence[str],
    trace: str,
    *,
    trace_format: str = "auto",
    prices: str | None = None,
    reclaim_rate: float | None = None,
    seed: int = 0,
    seen: Seen | None = None,
    simulating: Callable[[str, int], Watch] | None = None,
) -> list[PlanResult]:
    """One result per Platform file, on the jobs of ``trace``. ``reclaim_rate``: None
    keeps each pool's own. ``seen`` is told how far the trace is read; ``simulating``
    is told each Platform's name and job count and gives the simulation's watch."""
    jobs = read_trace(trace, trace_format, seen)
    results: list[PlanResult] = []
    for path in platforms:
        spec = load_platform(path).spec
        assert isinstance(spec, Platform)
        costs = read_prices(prices, {p.name for p in spec.spec.pools}) if prices else None
        name = spec.metadata.name
        if name in {r.platform for r in results}:
            name = f"{name} ({path})"  # the same Platform changed: tell them apart
        model = build_model(spec, name=name, prices=costs, reclaim_rate=reclaim_rate)
        validate(jobs, model, trace)
        watch = simulating(name, len(jobs)) if simulating is not None else None
        results.append(simulate(model, jobs, seed=seed, watch=watch))
    return results
