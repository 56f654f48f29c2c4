"""``mlkube apply (PATH | -f PATH)... [--dry-run=server] [--force-conflicts]``"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from mlkube.cli import kubeopts, options
from mlkube.cluster.apply import Applied, apply_objects, load_inputs
from mlkube.manifests import labelselector


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "apply",
        help="render specs (or take manifests) and apply them with server-side apply",
        description="Apply specs and plain manifests with server-side apply (field manager "
        "mlkube), in dependency order: CRDs (waiting until they are Established), "
        "namespaces, quotas, …, workloads. Jobs and endpoints given without their Platform "
        "use the Platform the cluster holds (applied with it).",
    )
    options.add_filenames(p, "spec or manifest file, directory, or - for stdin")
    p.add_argument(
        "--dry-run",
        choices=("none", "server"),
        default="none",
        help="server: validate and admit everything on the server, persist nothing",
    )
    p.add_argument(
        "--force-conflicts",
        action="store_true",
        help="take over fields another field manager owns (default: report the conflict)",
    )
    kubeopts.add(p, selector=True)  # -l: apply only the objects with these labels
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    selected = labelselector.parse(args.selector) if args.selector is not None else None
    kube, namespace = kubeopts.connect(args)

    def show(applied: Applied) -> None:
        print(applied, flush=True)

    with kube:
        objects = load_inputs(kube, args.paths)
        if selected is not None:
            objects = [o for o in objects if selected(o["metadata"].get("labels") or {})]
        results = apply_objects(
            kube,
            objects,
            dry_run=args.dry_run == "server",
            force=args.force_conflicts,
            namespace=namespace,
            progress=show,
        )
    counts = Counter(r.said for r in results)
    summary = ", ".join(f"{n} {said}" for said, n in sorted(counts.items()))
    if counts["unchanged"] == len(results):
        summary = f"{summary}: nothing to change" if results else "nothing to apply"
    print(summary, file=sys.stderr)
    return 0
