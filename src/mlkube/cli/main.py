"""``mlkube``: the entry point. Every MlkubeError becomes one line on stderr and its exit
code (see `mlkube.errors`); anything else is a bug, reported as one."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from mlkube import __version__
from mlkube.cli import apply, cluster, controller, doctor, lint, preflight, render, rules, status
from mlkube.errors import EXIT_BUG, EXIT_INTERRUPTED, MlkubeError

REPORT_BUGS = "https://github.com/mlkube/mlkube/issues"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlkube",
        description="ML workloads on Kubernetes: render, lint, explain.",
    )
    parser.add_argument("--version", action="version", version=f"mlkube {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for module in (render, lint, rules, cluster, apply, status, doctor, preflight, controller):
        module.register(verbs)
    from mlkube.cli import completion  # noqa: PLC0415 - it reads this parser back

    completion.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except MlkubeError as exc:
        print(f"mlkube: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `mlkube lint … | head`
        sys.stderr.close()
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception:  # a bug in mlkube, never bad input: say so, with the traceback
        traceback.print_exc()
        print(
            f"mlkube: internal error (a bug in mlkube); please report it at {REPORT_BUGS}",
            file=sys.stderr,
        )
        return EXIT_BUG
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
