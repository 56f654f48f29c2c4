"""Render specs into the production bundle (in progress)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def render_paths(paths: Sequence[str]) -> list[dict[str, Any]]:
    raise NotImplementedError
