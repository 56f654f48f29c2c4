"""Small Platforms and jobs for hand-computed simulations."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mlkube.plan.model import Model, Prices, build_model
from mlkube.plan.types import TraceJob
from mlkube.spec.models import Platform

PRIORITIES = [{"name": "low", "value": 10}, {"name": "high", "value": 100}]


def pool(name: str, nodes: int, gpus: int, *, spot: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "gpu": {"model": "A100", "count": gpus},
        "nodes": nodes,
        "zones": ["z"],
        "capacity": "spot" if spot else "on-demand",
    }


def platform(
    pools: list[dict[str, Any]],
    queues: list[dict[str, Any]],
    namespaces: list[dict[str, Any]] | None = None,
    *,
    prices: dict[str, Prices] | None = None,
    requeue_delay: float = 0.0,
    pod_backoff: tuple[float, float] = (0.0, 0.0),
    rendezvous_timeout: float = 0.0,
) -> Model:
    """The model of a small Platform. Kueue's 1 s requeue batching, the Job controller's
    back-off after a refused pod and the rendezvous timeout of a gang's first ranks are
    off (0) unless asked for, so that the arithmetic on paper stays in whole steps."""
    names = sorted({ns for q in queues for ns in q["namespaces"]})
    spec = {
        "apiVersion": "mlkube.dev/v1alpha1",
        "kind": "Platform",
        "metadata": {"name": "test"},
        "spec": {
            "priorityClasses": PRIORITIES,
            "pools": pools,
            "namespaces": namespaces or [{"name": n} for n in names],
            "queues": queues,
        },
    }
    model = build_model(Platform.model_validate(spec), prices=prices)
    return replace(
        model,
        requeue_delay=requeue_delay,
        pod_backoff=pod_backoff,
        rendezvous_timeout=rendezvous_timeout,
    )


def job(
    name: str,
    submit: float,
    gpus: int,
    duration: float,
    *,
    nodes: int = 1,
    namespace: str = "ns",
    queue: str = "q",
    priority: str | None = "low",
    spot: bool = False,
    checkpoint: float | None = None,
) -> TraceJob:
    return TraceJob(
        name=name,
        submit=submit,
        namespace=namespace,
        queue=queue,
        nodes=nodes,
        gpus_per_node=gpus,
        duration=duration,
        priority=priority,
        spot=spot,
        checkpoint_interval=checkpoint,
    )
