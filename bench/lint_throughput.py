"""Lint throughput: mlkube against Checkov on the same generated corpus, in one run.

    python bench/lint_throughput.py [--objects 10000] [--checkov PATH]

The corpus (bench/corpus.py) mixes eight kinds, half of the objects with defects.
Runs are interleaved (mlkube, Checkov, mlkube, …) so that both see the same machine
load; the result is the ratio of their rates, not either absolute number.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import stream
from bench.measure import Measurement, measure

OUT = Path(__file__).resolve().parent / "out"
DEFAULT_CHECKOV = Path(__file__).resolve().parent.parent / ".venv-checkov" / "bin" / "checkov"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2, help="Checkov runs (mlkube: one more)")
    parser.add_argument(
        "--checkov", default=str(DEFAULT_CHECKOV) if DEFAULT_CHECKOV.exists() else None
    )
    args = parser.parse_args()
    checkov = args.checkov or shutil.which("checkov")
    if not checkov:
        print("Checkov not found: `make bench` installs it into .venv-checkov", file=sys.stderr)
        return 2
    OUT.mkdir(exist_ok=True)
    corpus = OUT / f"corpus-{args.objects}.yaml"
    corpus.write_text(stream(args.objects))
    size = corpus.stat().st_size / 2**20
    print(f"corpus: {args.objects} objects, {size:.1f} MiB, half with defects")

    mlkube_cmd = [sys.executable, "-m", "mlkube", "lint", str(corpus), "--format", "json"]
    checkov_cmd = [checkov, "-f", str(corpus), "--framework", "kubernetes", "--quiet",
                   "--compact", "--skip-download", "-o", "json"]  # fmt: skip
    ours: list[Measurement] = [measure(mlkube_cmd)]
    theirs: list[Measurement] = []
    for _ in range(args.rounds):
        theirs.append(measure(checkov_cmd))
        ours.append(measure(mlkube_cmd))
    assert all(m.exit_code == 1 for m in ours), "mlkube found nothing: the corpus is broken"

    def rate(runs: list[Measurement]) -> float:
        objects: int = args.objects
        return objects / statistics.median(m.seconds for m in runs)

    for name, runs in (("mlkube", ours), ("checkov", theirs)):
        times = ", ".join(f"{m.seconds:.1f}" for m in runs)
        peak = max(m.peak_mib for m in runs)
        print(f"{name:8s} {rate(runs):8.0f} objects/s  (runs: {times} s; peak {peak:.0f} MiB)")
    print(f"ratio    {rate(ours) / rate(theirs):8.1f}x  (goal: at least 20x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
