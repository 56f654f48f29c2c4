"""``mlkube render``"""

from __future__ import annotations

from typing import Any


def register(verbs: Any) -> None:
    verbs.add_parser("render", help="render specs into manifests")
