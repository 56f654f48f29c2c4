"""``mlkube plan --platform P --trace T [--what-if P2 ...]``: what the Platform's queues
would do with a trace of jobs (waits, borrowing, preemptions, utilisation, cost),
simulated, before any hardware is bought."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from mlkube.errors import UsageError
from mlkube.fileio import write_atomic, write_stdout


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
    p.add_argument("--prices", metavar="FILE", help="{pool: {onDemand: X, spot: Y}} per GPU-hour")
    p.add_argument(
        "--spot-reclaim-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="reclaims per spot node-hour (default 0)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the spot reclaims (default 0)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkube.plan.model import build_model  # noqa: PLC0415 - loaded when used
    from mlkube.plan.prices import read_prices  # noqa: PLC0415
    from mlkube.plan.report import text, to_json  # noqa: PLC0415
    from mlkube.plan.simulate import simulate  # noqa: PLC0415
    from mlkube.plan.trace import read_trace, validate  # noqa: PLC0415
    from mlkube.plan.types import PlanResult  # noqa: PLC0415
    from mlkube.spec.load import load_platform  # noqa: PLC0415
    from mlkube.spec.models import Platform  # noqa: PLC0415

    rate = args.spot_reclaim_rate
    if not rate >= 0 or rate == float("inf"):
        raise UsageError("--spot-reclaim-rate: expected a finite number >= 0")
    render = _html() if args.format == "html" else None
    jobs = read_trace(args.trace, args.trace_format)
    results: list[PlanResult] = []
    for path in [args.platform, *args.what_if]:
        platform = load_platform(path).spec
        assert isinstance(platform, Platform)
        prices = (
            read_prices(args.prices, {p.name for p in platform.spec.pools}) if args.prices else None
        )
        name = platform.metadata.name
        if name in {r.platform for r in results}:
            name = f"{name} ({path})"  # the same Platform changed: tell them apart
        model = build_model(platform, name=name, prices=prices, reclaim_rate=rate)
        validate(jobs, model, args.trace)
        results.append(simulate(model, jobs, seed=args.seed))
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


def _html() -> Any:
    try:
        module = importlib.import_module("mlkube.plan.html")
    except ModuleNotFoundError as exc:
        if exc.name != "mlkube.plan.html":
            raise
        raise UsageError("--format html is not available in this build of mlkube") from None
    return module.render
