"""How long to wait for a server and how much to say about it: ``--request-timeout``
(kubectl's flag) and ``-v LEVEL`` (kubectl's levels: 4 shows retries, 6 every request),
added to every verb that talks to a cluster through `kubeopts`."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys

from mlkube.cluster.client import Timeouts

DEFAULT_REQUEST_TIMEOUT = "30s"
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """kubectl's ``--request-timeout`` values: ``0`` (none), ``30`` (seconds), ``1m30s``."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text[:40]!r} (e.g. 30s, 2m, 0)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def add(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--request-timeout",
        type=duration,
        default=duration(DEFAULT_REQUEST_TIMEOUT),
        metavar="DURATION",
        help="give up on a server request after this long, retries included "
        f"(default {DEFAULT_REQUEST_TIMEOUT}; 0: never)",
    )
    p.add_argument(
        "-v",
        "--v",
        dest="verbosity",
        type=int,
        default=0,
        metavar="LEVEL",
        help="log to stderr as kubectl's -v: 4 shows retries, 6 every request "
        "(or MLKUBE_DEBUG=LEVEL)",
    )


def timeouts(args: argparse.Namespace) -> Timeouts:
    return Timeouts(getattr(args, "request_timeout", duration(DEFAULT_REQUEST_TIMEOUT)))


_HANDLER = logging.StreamHandler()
_HANDLER.setFormatter(logging.Formatter("mlkube: %(message)s"))


def configure_logging(args: argparse.Namespace) -> None:
    """Debug lines on stderr: retries from level 1 (or ``MLKUBE_DEBUG``), requests from 6."""
    env = os.environ.get("MLKUBE_DEBUG", "")
    level = max(getattr(args, "verbosity", 0), int(env) if env.isdigit() else (4 if env else 0))
    root = logging.getLogger("mlkube")
    if level <= 0:  # as if never configured (main() may run more than once in a process)
        root.removeHandler(_HANDLER)
        root.setLevel(logging.NOTSET)
        return
    # today's stderr; not setStream(), which flushes the old one, closed if an earlier
    # main() in this process ran under a stream that has since been closed
    _HANDLER.stream = sys.stderr
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    root.setLevel(logging.DEBUG)
    logging.getLogger("mlkube.cluster.client.http").setLevel(
        logging.DEBUG if level >= 6 else logging.INFO
    )
