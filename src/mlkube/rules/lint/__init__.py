"""The lint rule registry: an explicit list, in id order, with no import side effects.

Object rules see one manifest at a time; input rules see the `Inventory` of the
whole input once it has been read.
"""

from __future__ import annotations

from mlkube.manifests.objects import Manifest
from mlkube.rules.lint import (
    autoscaling,
    capacity,
    gpu,
    network,
    platform,
    scheduling,
    schema,
    serving,
    storage,
    training,
)
from mlkube.rules.lint.inventory import Inventory
from mlkube.rules.model import Rule

_MODULES = (
    schema, gpu, training, serving, autoscaling, scheduling, storage, network, platform, capacity,
)  # fmt: skip

OBJECT_RULES: tuple[Rule[Manifest], ...] = tuple(r for m in _MODULES for r in m.OBJECT_RULES)
INPUT_RULES: tuple[Rule[Inventory], ...] = tuple(r for m in _MODULES for r in m.INPUT_RULES)
ALL_RULES: tuple[Rule[Manifest] | Rule[Inventory], ...] = tuple(
    sorted((*OBJECT_RULES, *INPUT_RULES), key=lambda r: r.id)
)
