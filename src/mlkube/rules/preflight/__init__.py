"""Preflight checks: is this cluster ready for the guide's ML workloads?"""

from __future__ import annotations

from mlkube.rules.preflight.checks import RULES, Subject

__all__ = ["RULES", "Subject"]
