"""``mlkube plan --platform P --trace T [--what-if P2 ...]``: what the Platform's queues
would do with a trace of jobs (waits, borrowing, preemptions, utilisation, cost),
simulated, before any hardware is bought."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlkube.errors import UsageError
from mlkube.fileio import write_atomic, write_stdout
from mlkube.progress import Progress, clock

if TYPE_CHECKING:
    from mlkube.plan.simulate import Watch


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "plan",
        help="simulate a job trace on a Platform's queues: waits, utilisation, cost",
        description="Simulate what the Kueue queues, quotas and nodes a Platform renders "
        "would do with a trace of jobs, and compare what-if platforms on the same trace.",
    )
    p.add_argument("--platform", required=True, metavar="FILE", help="the Platform spec")
    p.add_argument("--trace", required=True, metavar="FILE", help="jobs, CSV or JSONL")
    p.add_argument(
        "--trace-format",
        default="auto",
        metavar="FORMAT",
        help="auto (by file name), csv, jsonl, alibaba (cluster-trace-gpu-v2023's openb pod "
        "CSV) or philly (the Philly cluster_job_log); see docs/plan-formats.md",
    )
    p.add_argument(
        "--what-if",
        action="append",
        default=[],
        metavar="FILE",
        help="another Platform to simulate on the same trace (repeatable)",
    )
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.add_argument("-o", "--output", default="-", metavar="FILE|-", help="default: stdout")
    p.add_argument(
        "--prices",
        metavar="FILE",
        help="{pool: {onDemand: X, spot: Y}} per GPU-hour (default: each pool's pricePerGpuHour)",
    )
    p.add_argument(
        "--spot-reclaim-rate",
        type=float,
        default=None,
        metavar="R",
        help="reclaims per spot node-hour (default: each pool's reclaimRate, else 0)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the spot reclaims (default 0)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkube.plan.report import text, to_json  # noqa: PLC0415 - loaded when used
    from mlkube.plan.run import plan_files  # noqa: PLC0415

    rate = args.spot_reclaim_rate
    if rate is not None and (not rate >= 0 or rate == float("inf")):
        raise UsageError("--spot-reclaim-rate: expected a finite number >= 0")
    render = _html() if args.format == "html" else None
    with _Shown() as shown:
        results = plan_files(
            [args.platform, *args.what_if],
            args.trace,
            trace_format=args.trace_format,
            prices=args.prices,
            reclaim_rate=rate,
            seed=args.seed,
            seen=shown.reading,
            simulating=shown.simulating,
        )
    if args.format == "json":
        out = to_json(results)
    elif render is not None:
        out = render(results)
    else:
        out = text(results)
    if args.output == "-":
        write_stdout([out])
    else:
        write_atomic(args.output, out)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


class _Shown:
    """One progress line on a terminal (nothing when piped): the lines of the trace
    read, then each Platform's jobs finished, with the simulated time and events."""

    def __init__(self) -> None:
        self.progress = Progress("read trace", None, unit=_count("lines"))

    def __enter__(self) -> _Shown:
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.clear()

    def reading(self, line: int) -> None:
        self.progress.update(line)

    def simulating(self, name: str, jobs: int) -> Watch:
        p = self.progress
        p.what, p.total, p.unit, p.started = f"simulate {name}", jobs, _count("jobs"), p.now()

        def watch(now: float, events: int, finished: int) -> None:
            p.update(finished, f"{clock(now)} simulated, {events:,} events")

        return watch


def _count(noun: str) -> Callable[[float], str]:
    return lambda n: f"{n:,.0f} {noun}"


def _html() -> Any:
    try:
        module = importlib.import_module("mlkube.plan.html")
    except ModuleNotFoundError as exc:
        if exc.name != "mlkube.plan.html":
            raise
        raise UsageError("--format html is not available in this build of mlkube") from None
    return module.render
