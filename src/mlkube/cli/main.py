"""``mlkube``: the entry point. Every MlkubeError becomes one line on stderr and its exit
code (see `mlkube.errors`); so does an OSError that escaped an edge (a file that could
not be read or written, standard output on a full disk): the environment's failure,
not mlkube's. Anything else is a bug, reported as one."""

from __future__ import annotations

import argparse
import functools
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from mlkube import __version__
from mlkube.cli import (
    apply,
    cluster,
    controller,
    doctor,
    examples,
    lint,
    options,
    plan,
    preflight,
    render,
    rules,
    status,
)
from mlkube.errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_UNREACHABLE, EXIT_USAGE, MlkubeError
from mlkube.fileio import reason, write_stdout
from mlkube.messages import one_line

REPORT_BUGS = "https://github.com/mlkube/mlkube/issues"


class _Parser(argparse.ArgumentParser):
    """argparse, with the value it complains about clipped and escaped like any error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlkube",
        description="ML workloads on Kubernetes: render, lint, apply and watch them, diagnose "
        "and preflight a cluster, run a local one, and the spot checkpoint controller; "
        "list and explain the rules.",
    )
    parser.add_argument("--version", action="version", version=f"mlkube {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for module in (
        render,
        lint,
        rules,
        cluster,
        apply,
        status,
        doctor,
        preflight,
        controller,
        plan,
    ):
        module.register(verbs)
    from mlkube.cli import completion  # noqa: PLC0415 - it reads this parser back

    completion.register(verbs)
    examples.attach(parser)
    # one line per verb in `mlkube --help`: its help starts where the longest name ends
    parser.formatter_class = functools.partial(examples.Formatter, max_help_position=24, width=100)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "filenames"):
            options.take_filenames(args)
        code: int = args.run(args)
        write_stdout([])  # a write that fails fails here, not at exit
    except MlkubeError as exc:
        _say(str(exc))
        return exc.exit_code
    except BrokenPipeError:  # `mlkube lint … | head`
        sys.stderr.close()
        return 1
    except OSError as exc:
        _say(_os_error(exc))
        return EXIT_UNREACHABLE if isinstance(exc, ConnectionError | TimeoutError) else EXIT_USAGE
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


def _say(message: str) -> None:
    print(f"mlkube: {one_line(message)}", file=sys.stderr)


def _os_error(exc: OSError) -> str:
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' → '.join(names)}: {reason(exc)}" if names else reason(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
