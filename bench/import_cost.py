"""What mlkube costs to import where it runs: in every training rank (``mlkube.runtime``
beside ``import torch``, the peer it must stay small against) and on the command line
(``mlkube --version``, ``mlkube rules``, ``mlkube doctor --help`` beside
``python -c pass``, the floor; goal: each CLI command at most 0.25 s).

    .venv/bin/python bench/import_cost.py [--runs 15] [--no-torch] [--before SRC]

Each trial runs every command once in a fresh interpreter, in turn, so all of them see
the same load; the report gives medians of wall time and of the child's CPU time (user
and system), and ratios to the floor. The commands import mlkube from where this
script runs it (``PYTHONPATH`` as set), so a worktree measures its own source; its
bytecode is written first, as installing mlkube does. ``--before SRC`` also runs the
CLI commands on another source tree (an older checkout's ``src``), in the same trials.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import Measurement, compile_mlkube, measure

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import torch": [sys.executable, "-c", "import torch"],
    "import mlkube.runtime": [sys.executable, "-c", "import mlkube.runtime"],
    "mlkube --version": [str(BIN / "mlkube"), "--version"],
    "mlkube rules": [str(BIN / "mlkube"), "rules"],
    "mlkube doctor --help": [str(BIN / "mlkube"), "doctor", "--help"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-torch", action="store_true", help="leave out `import torch`")
    parser.add_argument("--before", metavar="SRC", help="also run the CLI from this source tree")
    args = parser.parse_args()
    commands: dict[str, tuple[list[str], dict[str, str] | None]]
    commands = {k: (v, None) for k, v in COMMANDS.items() if not (args.no_torch and "torch" in k)}
    if args.before:
        before = {**os.environ, "PYTHONPATH": str(Path(args.before).resolve())}
        commands |= {f"{k} (before)": (v, before) for k, v in COMMANDS.items() if "mlkube " in k}
        compile_mlkube(str(Path(args.before) / "mlkube"))
    else:
        compile_mlkube()
    runs: dict[str, list[Measurement]] = {name: [] for name in commands}
    load = os.getloadavg()[0]
    for _ in range(args.runs):
        for name, (argv, env) in commands.items():
            result = measure(argv, env)
            assert result.exit_code == 0, name
            runs[name].append(result)
    wall = {n: statistics.median(r.seconds for r in rs) for n, rs in runs.items()}
    cpu = {n: statistics.median(r.cpu_seconds for r in rs) for n, rs in runs.items()}
    floor, cpu_floor = wall["python -c pass"], cpu["python -c pass"]
    print(f"runs: {args.runs}; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    print("| command | wall, median (s) | over `python -c pass` | CPU, median (s) |")
    print("|---|---|---|---|")
    for name in commands:
        print(
            f"| `{name}` | {wall[name]:.3f} | {wall[name] - floor:+.3f} s "
            f"({wall[name] / floor:.1f}×) | {cpu[name]:.3f} ({cpu[name] / cpu_floor:.1f}×) |"
        )
    if "import torch" in commands:
        runtime = wall["import mlkube.runtime"] - floor
        torch = wall["import torch"] - floor
        share = 100 * runtime / torch
        print(f"\nimport mlkube.runtime costs {runtime:.3f} s, {share:.1f} % of import torch "
              f"({torch:.3f} s), both above the interpreter's own start-up.")  # fmt: skip


if __name__ == "__main__":
    main()
