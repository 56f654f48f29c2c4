"""``mlkube``: the entry point. Every MlkubeError becomes one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mlkube import __version__
from mlkube.cli import apply, cluster, controller, doctor, lint, preflight, render, rules, status
from mlkube.errors import MlkubeError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlkube",
        description="ML workloads on Kubernetes: render, lint, explain.",
    )
    parser.add_argument("--version", action="version", version=f"mlkube {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for module in (render, lint, rules, cluster, apply, status, doctor, preflight, controller):
        module.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except MlkubeError as exc:
        print(f"mlkube: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `mlkube lint … | head`
        sys.stderr.close()
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
