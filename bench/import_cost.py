"""What mlkube costs to import where it runs: in every training rank (``mlkube.runtime``
beside ``import torch``, the peer it must stay small against) and on the command line
(``mlkube --version``, ``mlkube rules`` beside ``python -c pass``, the floor).

    .venv/bin/python bench/import_cost.py [--runs 15]

Each trial runs every command once in a fresh interpreter, in turn, so all of them see
the same load; the report gives medians and ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import measure

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import torch": [sys.executable, "-c", "import torch"],
    "import mlkube.runtime": [sys.executable, "-c", "import mlkube.runtime"],
    "mlkube --version": [str(BIN / "mlkube"), "--version"],
    "mlkube rules": [str(BIN / "mlkube"), "rules"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, argv in COMMANDS.items():
            result = measure(argv)
            assert result.exit_code == 0, name
            times[name].append(result.seconds)
    median = {name: statistics.median(t) for name, t in times.items()}
    floor = median["python -c pass"]
    print(f"| command | median (s) | over `python -c pass` | runs: {args.runs} |")
    print("|---|---|---|---|")
    for name, seconds in median.items():
        print(f"| `{name}` | {seconds:.3f} | {seconds - floor:+.3f} s ({seconds / floor:.1f}×) | |")
    runtime = median["import mlkube.runtime"] - floor
    torch = median["import torch"] - floor
    print(f"\nimport mlkube.runtime costs {runtime:.3f} s, {100 * runtime / torch:.1f} % of "
          f"import torch ({torch:.3f} s), both above the interpreter's own start-up.")  # fmt: skip


if __name__ == "__main__":
    main()
