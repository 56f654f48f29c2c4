"""Lint throughput: mlkube against Checkov and against the parsing floor, in one run.

    python bench/lint_throughput.py [--objects 10000] [--checkov PATH] [--no-checkov]
                                    [--before SRC]

The floor is merely parsing the same file with PyYAML's C loader
(``yaml.load_all(..., Loader=yaml.CSafeLoader)``) in a fresh interpreter, like mlkube's
run: process start is included for both. Goal: mlkube at least half the floor's rate.
``--before SRC`` also runs mlkube from another source tree (a change's baseline).

The corpus (bench/corpus.py) mixes eight kinds, half of the objects with defects.
Runs are interleaved (mlkube, floor, Checkov, mlkube, …) so that all see the same
machine load; the results are ratios of rates, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import stream
from bench.measure import Measurement, compile_mlkube, measure

OUT = Path(__file__).resolve().parent / "out"
FLOOR = "import sys, yaml; list(yaml.load_all(open(sys.argv[1]), Loader=yaml.CSafeLoader))"
DEFAULT_CHECKOV = Path(__file__).resolve().parent.parent / ".venv-checkov" / "bin" / "checkov"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument(
        "--rounds", type=int, default=2, help="Checkov runs (mlkube and floor: one more)"
    )
    parser.add_argument(
        "--no-checkov", action="store_true", help="only mlkube against the floor (fast)"
    )
    parser.add_argument(
        "--checkov", default=str(DEFAULT_CHECKOV) if DEFAULT_CHECKOV.exists() else None
    )
    parser.add_argument("--before", metavar="SRC", help="also run mlkube from this source tree")
    args = parser.parse_args()
    checkov = None if args.no_checkov else args.checkov or shutil.which("checkov")
    if not checkov and not args.no_checkov:
        print("Checkov not found: `make bench` installs it into .venv-checkov", file=sys.stderr)
        return 2
    OUT.mkdir(exist_ok=True)
    compile_mlkube(*([str(Path(args.before) / "mlkube")] if args.before else []))
    corpus = OUT / f"corpus-{args.objects}.yaml"
    corpus.write_text(stream(args.objects))
    size = corpus.stat().st_size / 2**20
    print(f"corpus: {args.objects} objects, {size:.1f} MiB, half with defects")

    mlkube_cmd = [sys.executable, "-m", "mlkube", "lint", str(corpus), "--format", "json"]
    floor_cmd = [sys.executable, "-c", FLOOR, str(corpus)]
    checkov_cmd = [checkov or "", "-f", str(corpus), "--framework", "kubernetes", "--quiet",
                   "--compact", "--skip-download", "-o", "json"]  # fmt: skip
    before_env = {**os.environ, "PYTHONPATH": str(Path(args.before).resolve())}
    before: list[Measurement] = []
    ours: list[Measurement] = [measure(mlkube_cmd)]
    floor: list[Measurement] = [measure(floor_cmd)]
    theirs: list[Measurement] = []
    for i in range(args.rounds + 1):
        if args.before:
            before.append(measure(mlkube_cmd, before_env))
        if i == args.rounds:
            break
        if checkov:
            theirs.append(measure(checkov_cmd))
        ours.append(measure(mlkube_cmd))
        floor.append(measure(floor_cmd))
    assert all(m.exit_code == 1 for m in ours), "mlkube found nothing: the corpus is broken"
    assert all(m.exit_code == 0 for m in floor), "the floor failed to parse the corpus"

    _report(args.objects, ours, before, floor, theirs)
    return 0


def _report(
    objects: int,
    ours: list[Measurement],
    before: list[Measurement],
    floor: list[Measurement],
    theirs: list[Measurement],
) -> None:
    def rate(runs: list[Measurement]) -> float:
        return objects / statistics.median(m.seconds for m in runs)

    def cpu_rate(runs: list[Measurement]) -> float:
        return objects / statistics.median(m.cpu_seconds for m in runs)

    named = (("mlkube", ours), ("before", before), ("floor", floor), ("checkov", theirs))
    for name, runs in named:
        if not runs:
            continue
        times = ", ".join(f"{m.seconds:.1f}" for m in runs)
        cpu = ", ".join(f"{m.cpu_seconds:.1f}" for m in runs)
        peak = max(m.peak_mib for m in runs)
        print(
            f"{name:8s} {rate(runs):8.0f} objects/s  (runs: {times} s; CPU {cpu} s; "
            f"peak {peak:.0f} MiB)"
        )
    print(
        f"vs floor {rate(ours) / rate(floor):8.0%}   (goal: at least 50%; "
        f"by CPU time {cpu_rate(ours) / cpu_rate(floor):.0%})"
    )
    if before:
        print(
            f"vs before {rate(ours) / rate(before):7.2f}x  "
            f"(by CPU time {cpu_rate(ours) / cpu_rate(before):.2f}x)"
        )
    if theirs:
        print(f"ratio    {rate(ours) / rate(theirs):8.1f}x  (goal: at least 20x)")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
