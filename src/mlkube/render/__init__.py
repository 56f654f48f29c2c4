"""Render specs into the production bundle: plain objects, in apply order.

Objects are built as data and serialised once at the edge; the same input always
gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mlkube.manifests.order import ordered
from mlkube.render.platform import render_platform
from mlkube.render.pytorchjob import render_pytorchjob
from mlkube.render.serving import adapter_rules, render_endpoint
from mlkube.render.trainjob import render_trainjob
from mlkube.spec import Platform, SpecFile, TrainingJob
from mlkube.spec.load import load_paths
from mlkube.spec.models import Pool

Bundle = list[dict[str, Any]]


def render_paths(paths: Sequence[str]) -> Bundle:
    """Render every spec document in ``paths``; plain manifests there are refused."""
    return render_specs(load_paths(paths))


def render_specs(
    files: Iterable[SpecFile], *, known: Platform | None = None, origin: str | None = None
) -> Bundle:
    """Render ``files``. A Platform among them is rendered and resolves the others;
    without one, ``known`` (the cluster's, say) resolves them and is not rendered, and
    ``origin`` says in errors where a Platform was looked for."""
    files = list(files)
    platforms = [f for f in files if isinstance(f.spec, Platform)]
    if len(platforms) > 1:
        raise platforms[1].error(("kind",), "a second Platform: render one platform at a time")
    platform = platforms[0].spec if platforms else known
    assert platform is None or isinstance(platform, Platform)
    if platforms:
        origin = None
    out: Bundle = []
    seen: set[tuple[str, str, str]] = set()
    for f in files:
        objs = _render_one(f, platform, origin)
        _refuse_duplicates(objs, f, seen)
        out += objs
    adapter_metrics = [
        m["pods"]["metric"]["name"]
        for o in out
        if o["kind"] == "HorizontalPodAutoscaler"
        for m in o["spec"]["metrics"]
    ]
    if adapter_metrics:
        out.append(adapter_rules(adapter_metrics))
    return ordered(out)


def _render_one(f: SpecFile, platform: Platform | None, origin: str | None) -> Bundle:
    spec = f.spec
    if isinstance(spec, Platform):
        return render_platform(spec)
    if isinstance(spec, TrainingJob):
        pool = _pool(f, spec.spec.pool, platform, origin)
        _check_job(f, spec, pool, platform)
        # Without a Platform, the default: Kubeflow Trainer v2.
        if platform is not None and platform.spec.training.operator == "training-operator":
            return render_pytorchjob(spec, pool, platform)
        return render_trainjob(spec, pool, platform)
    pool = _pool(f, spec.spec.pool, platform, origin)
    _check_priority(f, spec.spec.priority, platform)
    return render_endpoint(spec, pool)


def _pool(
    f: SpecFile, name: str | None, platform: Platform | None, origin: str | None = None
) -> Pool | None:
    if name is None:
        return None
    pool = platform.spec.pool(name) if platform else None
    if pool is None:
        where = origin or ("the Platform" if platform else "a Platform in the input (none given)")
        raise f.error(("spec", "pool"), f"pool {name!r} is not defined by {where}")
    return pool


def _check_priority(f: SpecFile, name: str | None, platform: Platform | None) -> None:
    if name and platform and name not in {p.name for p in platform.spec.priority_classes}:
        raise f.error(("spec", "priority"), f"priority class {name!r} is not in the Platform")


def _check_job(f: SpecFile, job: TrainingJob, pool: Pool | None, platform: Platform | None) -> None:
    spec = job.spec
    _check_priority(f, spec.priority, platform)
    if pool is not None and pool.spot != spec.spot:
        if spec.spot:
            raise f.error(("spec", "spot"), f"pool {pool.name!r} is on-demand, not spot")
        raise f.error(
            ("spec", "pool"),
            f"pool {pool.name!r} is spot: set spot: true and a checkpoint to run there",
        )
    if pool is not None and spec.gpus_per_node > pool.gpus_advertised:
        raise f.error(
            ("spec", "gpusPerNode"),
            f"{spec.gpus_per_node} GPUs per node, but pool {pool.name!r} nodes have "
            f"{pool.gpus_advertised}",
        )
    if platform is not None and spec.queue:
        namespace = job.metadata.namespace or "default"
        served = {q.name for q in platform.spec.queues if namespace in q.namespaces}
        if spec.queue not in served:
            raise f.error(
                ("spec", "queue"), f"no queue {spec.queue!r} serves namespace {namespace!r}"
            )


def _refuse_duplicates(objs: Bundle, f: SpecFile, seen: set[tuple[str, str, str]]) -> None:
    for obj in objs:
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace", ""), meta["name"])
        if key in seen:
            name = "/".join(p for p in key[1:] if p)
            raise f.error(("metadata", "name"), f"another spec already renders {key[0]} {name}")
        seen.add(key)
