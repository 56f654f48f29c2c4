"""`cluster up`'s wait for its nodes: it lasts while nodes keep turning Ready and
fails, naming the laggards, only once none has for its stall time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mlkube.cluster.client import Kube
from mlkube.localcluster.cluster import wait_nodes_ready
from mlkube.localcluster.nodes import KWOK_ANNOTATION, fake_node
from mlkube.spec import Platform, load_platform
from mlkube.wait import WaitTimeout

from ..conftest import EXAMPLES


def _shape(name: str, *, kwok: bool) -> dict[str, Any]:
    platform = load_platform(str(EXAMPLES / "platform.yaml")).spec
    assert isinstance(platform, Platform)
    pool = next(p for p in platform.spec.pools if p.name == "t4-dev")
    node = fake_node(pool, 0)
    node["metadata"]["name"] = name
    node["metadata"]["labels"]["kubernetes.io/hostname"] = name
    if not kwok:  # KWOK manages only nodes with its annotation: this one never is Ready
        del node["metadata"]["annotations"][KWOK_ANNOTATION]
    return node


@pytest.fixture
def two_nodes(kube: Kube) -> Iterator[tuple[str, str]]:
    """A node KWOK makes Ready and one it never does, removed afterwards so that the
    shared cluster keeps only the nodes the other tests rely on."""
    names = ("ready-wait-kwok", "ready-wait-unmanaged")
    try:
        for name, kwok in zip(names, (True, False), strict=True):
            node = _shape(name, kwok=kwok)
            status = node.pop("status")
            kube.patch_status(kube.create(node), status)
        yield names
    finally:
        for name in names:
            kube.delete("v1", "Node", name)


def test_waits_for_the_nodes_then_fails_on_one_that_stays_not_ready(
    kube: Kube, two_nodes: tuple[str, str]
) -> None:
    managed, unmanaged = two_nodes
    wait_nodes_ready(kube, {managed})  # KWOK makes it Ready: returns
    with pytest.raises(WaitTimeout) as failed:
        wait_nodes_ready(kube, {managed, unmanaged}, stall=2)
    message = str(failed.value)
    assert "1 of 2 after 2s without progress" in message
    assert message.endswith(f"not Ready: {unmanaged}")
