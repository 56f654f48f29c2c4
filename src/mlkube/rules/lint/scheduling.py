"""Rules on scheduling (being written)."""

from __future__ import annotations

from mlkube.manifests.objects import Manifest
from mlkube.rules.lint.inventory import Inventory
from mlkube.rules.model import Rule

OBJECT_RULES: tuple[Rule[Manifest], ...] = ()
INPUT_RULES: tuple[Rule[Inventory], ...] = ()
