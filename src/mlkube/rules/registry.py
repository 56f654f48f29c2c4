"""Every rule mlkube has, lint and doctor, for listings, `explain` and the docs."""

from __future__ import annotations

from typing import Any

from mlkube.rules.doctor import RULES as DOCTOR_RULES
from mlkube.rules.lint import ALL_RULES as LINT_RULES
from mlkube.rules.model import Rule

ALL_RULES: tuple[Rule[Any], ...] = (*LINT_RULES, *DOCTOR_RULES)
