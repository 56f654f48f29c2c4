"""``mlkube render PATH... [-o DIR|-]``"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mlkube.fileio import write_stdout
from mlkube.render import render_paths
from mlkube.render.output import to_stream, write_directory


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "render",
        help="render mlkube specs into the production bundle",
        description="Render Platform, TrainingJob and InferenceEndpoint specs into the "
        "Kubernetes objects they need, in apply order.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec file or directory")
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="DIR|-",
        help="directory to write (kustomize-ready), or - for one YAML stream (default)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    bundle = render_paths(args.paths)
    if args.output == "-":
        write_stdout([to_stream(bundle)])
    else:
        files = write_directory(bundle, args.output)
        print(f"wrote {len(files)} objects to {args.output}", file=sys.stderr)
    return 0
