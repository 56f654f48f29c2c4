"""The planner's results as a summary table (several platforms side by side: the
what-ifs) and as JSON with everything. No I/O."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from mlkube.plan.types import GroupResult, PlanResult, PoolResult


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def _money(value: float, given: bool) -> str:
    return f"{value:,.2f}" if given else "-"


def _rows(results: Sequence[PlanResult]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []

    def add(label: str, value: Callable[[PlanResult], str]) -> None:
        rows.append((label, [value(r) for r in results]))

    add("span", lambda r: _hours(r.span))
    add("jobs", lambda r: str(len(r.jobs)))
    add("finished", lambda r: str(sum(1 for j in r.jobs if j.finished is not None)))
    add("never admitted", lambda r: str(sum(1 for j in r.jobs if not j.admissions)))
    add(
        "admitted, never ran",
        lambda r: str(sum(1 for j in r.jobs if j.admissions and not j.starts)),
    )
    add("preemptions", lambda r: str(sum(len(j.preemptions) for j in r.jobs)))
    add("spot reclaims", lambda r: str(sum(len(j.reclaims) for j in r.jobs)))
    add("lost GPU-hours", lambda r: f"{sum(j.lost_gpu_hours for j in r.jobs):,.1f}")
    for name in _ordered(q.name for r in results for q in r.queues):
        _group_rows(add, f"queue {name}", _queue_finder(name))
    for name in _ordered(t.name for r in results for t in r.teams):
        _group_rows(add, f"team {name}", _team_finder(name), borrowed=False)
    for name in _ordered(p.name for r in results for p in r.pools):
        add(f"pool {name} utilisation", _pool_cell(name, lambda p: f"{p.average_utilisation:.0%}"))
        add(f"pool {name} idle GPU-h", _pool_cell(name, lambda p: f"{p.idle_gpu_hours:,.1f}"))
    add("cost", lambda r: _money(r.cost.total, r.cost.prices_given))
    add("cost of lost work", lambda r: _money(r.cost.lost_work, r.cost.prices_given))
    return rows


def _group_rows(
    add: Callable[[str, Callable[[PlanResult], str]], None],
    label: str,
    find: Callable[[PlanResult], GroupResult | None],
    *,
    borrowed: bool = True,
) -> None:
    def cell(fn: Callable[[GroupResult], str]) -> Callable[[PlanResult], str]:
        return lambda r: fn(g) if (g := find(r)) is not None else "-"

    add(
        f"{label} wait p50/p95/max",
        cell(lambda g: f"{_hours(g.wait.p50)}/{_hours(g.wait.p95)}/{_hours(g.wait.max)}"),
    )
    add(
        f"{label} start wait p50/p95/max",
        cell(
            lambda g: (
                f"{_hours(g.start_wait.p50)}/{_hours(g.start_wait.p95)}/{_hours(g.start_wait.max)}"
            )
        ),
    )
    add(f"{label} admitted GPU-h", cell(lambda g: f"{g.admitted_gpu_hours:,.1f}"))
    if borrowed:
        add(f"{label} borrowed GPU-h", cell(lambda g: f"{g.borrowed_gpu_hours:,.1f}"))


def _queue_finder(name: str) -> Callable[[PlanResult], GroupResult | None]:
    return lambda r: _find(r.queues, name)


def _team_finder(name: str) -> Callable[[PlanResult], GroupResult | None]:
    return lambda r: _find(r.teams, name)


def _pool_cell(name: str, fn: Callable[[PoolResult], str]) -> Callable[[PlanResult], str]:
    return lambda r: next((fn(p) for p in r.pools if p.name == name), "-")


def _find(groups: list[GroupResult], name: str) -> GroupResult | None:
    return next((g for g in groups if g.name == name), None)


def _ordered(names: Any) -> list[str]:
    return list(dict.fromkeys(names))


def text(results: list[PlanResult]) -> str:
    """One column per platform: the first is the plan, the others its what-ifs."""
    rows = _rows(results)
    header = ["", *(r.platform for r in results)]
    width = [max(len(header[0]), *(len(label) for label, _ in rows))]
    for i in range(len(results)):
        width.append(max(len(header[i + 1]), *(len(cells[i]) for _, cells in rows)))
    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, width, strict=True))
        )
    ]
    for label, cells in rows:
        lines.append(
            "  ".join(
                [
                    label.ljust(width[0]),
                    *(c.rjust(w) for c, w in zip(cells, width[1:], strict=True)),
                ]
            )
        )
    if any(not r.cost.prices_given for r in results):
        lines.append("cost: no prices were given (--prices FILE); GPU-hours only")
    return "\n".join(lines) + "\n"


def to_dict(result: PlanResult) -> dict[str, Any]:
    return {
        "platform": result.platform,
        "span": result.span,
        "jobs": [{**asdict(j), "wait": j.wait, "start_wait": j.start_wait} for j in result.jobs],
        "queues": [asdict(q) for q in result.queues],
        "teams": [asdict(t) for t in result.teams],
        "pools": [asdict(p) for p in result.pools],
        "cost": asdict(result.cost),
    }


def to_json(results: list[PlanResult]) -> str:
    """``{"platforms": [{platform, span, jobs, queues, teams, pools, cost}, ...]}``."""
    return json.dumps({"platforms": [to_dict(r) for r in results]}, indent=1) + "\n"
