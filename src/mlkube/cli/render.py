"""``mlkube render PATH... [-o yaml|json] [--output-dir DIR]``"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mlkube.cli import options
from mlkube.fileio import write_stdout
from mlkube.render import render_paths
from mlkube.render.output import to_stream, write_directory

FORMATS = ("yaml", "json")


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "render",
        help="render mlkube specs into the production bundle",
        description="Render Platform, TrainingJob and InferenceEndpoint specs into the "
        "Kubernetes objects they need, in apply order: one YAML stream (or a JSON List) on "
        "standard output, or one file per object in --output-dir.",
    )
    options.add_filenames(p, "spec file or directory, or - for stdin")
    p.add_argument(
        "-o",
        "--output",
        default="yaml",
        metavar="yaml|json",
        help="format on standard output (default yaml); `-o DIR` is the deprecated "
        "spelling of --output-dir DIR",
    )
    p.add_argument("--output-dir", metavar="DIR", help="write a kustomize-ready directory instead")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    directory = args.output_dir
    if args.output not in (*FORMATS, "-"):  # the old `-o DIR`
        print(
            f"mlkube: render -o DIR is deprecated: use --output-dir {args.output}",
            file=sys.stderr,
        )
        directory = directory or args.output
    bundle = render_paths(args.paths)
    if directory is not None:
        files = write_directory(bundle, directory)
        print(f"wrote {len(files)} objects to {directory}", file=sys.stderr)
    elif args.output == "json":
        write_stdout([options.json_list(bundle)])
    else:
        write_stdout([to_stream(bundle)])
    return 0
