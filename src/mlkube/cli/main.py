"""``mlkube``: the entry point. Every MlkubeError becomes one line on stderr and its exit
code (see `mlkube.errors`); so does an OSError that escaped an edge (a file that could
not be read or written, standard output on a full disk): the environment's failure,
not mlkube's. Anything else is a bug, reported as one.

Start-up imports only the verb that runs: each verb's module (and what it imports)
loads when that verb is on the command line, so ``mlkube rules`` never loads the HTTP
client nor ``mlkube doctor`` the renderer; ``--help`` and a verb mistyped load them all.
"""

from __future__ import annotations

import argparse
import functools
import sys
import traceback
from collections.abc import Sequence
from importlib import import_module
from typing import Any, NoReturn

from mlkube.cli import examples  # argparse only: the examples under each verb's help
from mlkube.errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_UNREACHABLE, EXIT_USAGE, MlkubeError
from mlkube.fileio import reason, write_stdout
from mlkube.messages import one_line

REPORT_BUGS = "https://github.com/mlkube/mlkube/issues"
# Each verb, in the order `mlkube --help` lists them, and the module under mlkube.cli
# that registers it (some register two).
VERBS = {
    "render": "render",
    "lint": "lint",
    "rules": "rules",
    "explain": "rules",
    "cluster": "cluster",
    "apply": "apply",
    "status": "status",
    "wait": "status",
    "doctor": "doctor",
    "preflight": "preflight",
    "controller": "controller",
    "plan": "plan",
    "completion": "completion",
}


class _Parser(argparse.ArgumentParser):
    """argparse, with the value it complains about clipped and escaped like any error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)}\n")


class _Version(argparse.Action):
    """``--version``, read from the package metadata only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show the version and exit")
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        import mlkube  # noqa: PLC0415 - the package; its __version__ loads on first use

        sys.stdout.write(f"mlkube {mlkube.__version__}\n")  # argparse's version action's stream
        parser.exit()


_EVERY = tuple(dict.fromkeys(VERBS.values()))


def needed(argv: Sequence[str]) -> tuple[str, ...]:
    """The verb modules a command line needs: the verb's own; none for a bare
    ``--version``; all of them for ``--help`` before a verb, no verb or an unknown one
    (the help lists them; a typo's error names the verbs there are)."""
    for word in argv:
        if word in ("-h", "--help"):
            return _EVERY
        if not word.startswith("-"):
            return (VERBS[word],) if word in VERBS else _EVERY
    return () if "--version" in argv else _EVERY


def build_parser(modules: Sequence[str] = _EVERY) -> argparse.ArgumentParser:
    """The parser, with the verbs of ``modules`` (names under mlkube.cli)."""
    parser = _Parser(
        prog="mlkube",
        description="ML workloads on Kubernetes: render, lint, apply and watch them, diagnose "
        "and preflight a cluster, run a local one, and the spot checkpoint controller; "
        "list and explain the rules.",
    )
    parser.add_argument("--version", action=_Version)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for name in modules:
        import_module(f"mlkube.cli.{name}").register(verbs)
    examples.attach(parser)
    # one line per verb in `mlkube --help`: its help starts where the longest name ends
    parser.formatter_class = functools.partial(examples.Formatter, max_help_position=24, width=100)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(needed(words)).parse_args(words)
    try:
        if hasattr(args, "filenames"):
            from mlkube.cli import options  # noqa: PLC0415 - the verb that takes -f loaded it

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
