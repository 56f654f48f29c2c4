"""``mlkube apply PATH... [--dry-run=server]``"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from mlkube.cli import kubeopts
from mlkube.cluster.apply import apply_objects
from mlkube.errors import UsageError
from mlkube.manifests.yamlstream import read_paths
from mlkube.render import render_specs
from mlkube.spec import is_spec, load_specs


def register(verbs: Any) -> None:
    p: argparse.ArgumentParser = verbs.add_parser(
        "apply",
        help="render specs (or take manifests) and apply them with server-side apply",
        description="Apply specs and plain manifests with server-side apply (field manager "
        "mlkube), in dependency order: CRDs, namespaces, quotas, …, workloads.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec or manifest file, directory, -")
    p.add_argument(
        "--dry-run",
        choices=("none", "server"),
        default="none",
        help="server: validate and admit everything on the server, persist nothing",
    )
    kubeopts.add(p)
    p.set_defaults(run=run)


def objects(paths: list[str], namespace: str) -> list[dict[str, Any]]:
    """Rendered specs and plain manifests; namespaced objects default to ``namespace``."""
    docs = [d for d in read_paths(paths) if d.obj is not None]
    specs = [d for d in docs if is_spec(d.obj)]
    out = render_specs(load_specs(specs)) if specs else []
    for d in docs:
        if not is_spec(d.obj):
            if not isinstance(d.obj, dict) or "kind" not in d.obj:
                raise UsageError(f"{d.source}:{d.line}: not a Kubernetes object")
            out.append(d.obj)
    for obj in out:
        obj.setdefault("metadata", {}).setdefault("namespace", namespace)
    return out


def run(args: argparse.Namespace) -> int:
    kube, namespace = kubeopts.connect(args)
    with kube:
        items = objects(args.paths, namespace)
        for obj in items:
            resource = kube.resource(obj["apiVersion"], obj["kind"])
            if not resource.namespaced:
                obj["metadata"].pop("namespace", None)
        results = apply_objects(kube, items, dry_run=args.dry_run == "server")
    for r in results:
        print(r)
    counts = Counter(r.action.split()[0] for r in results)
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    if counts.get("unchanged") == len(results):
        summary += ": nothing to change"
    print(summary, file=sys.stderr)
    return 0
