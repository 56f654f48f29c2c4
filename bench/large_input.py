"""Large input: lint a 50 MiB multi-document stream (large Helm output) and a tenth of
it, and compare time and peak memory per object.

    python bench/large_input.py [--mib 50]

Bounded memory means the peak grows with the number of findings and workloads kept
for cross-object rules, not with the bytes of the input held as objects.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import stream
from bench.measure import measure

OUT = Path(__file__).resolve().parent / "out"
OBJECTS_PER_MIB = 1420  # of bench/corpus.py output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=50)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for mib in (args.mib // 10, args.mib):
        objects = mib * OBJECTS_PER_MIB
        corpus = OUT / f"large-{mib}.yaml"
        corpus.write_text(stream(objects))
        size = corpus.stat().st_size / 2**20
        run = measure([sys.executable, "-m", "mlkube", "lint", str(corpus), "--format", "json"])
        print(
            f"{size:5.1f} MiB {objects:6d} objects: {run.seconds:6.1f} s, "
            f"{objects / run.seconds:5.0f} objects/s, peak {run.peak_mib:4.0f} MiB, "
            f"{run.peak_mib / size:4.1f} MiB per input MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
