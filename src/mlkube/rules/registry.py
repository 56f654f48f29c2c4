"""Every rule mlkube has — lint, doctor, preflight — for listings, `explain` and docs."""

from __future__ import annotations

from typing import Any

from mlkube.rules.doctor import RULES as DOCTOR_RULES
from mlkube.rules.lint import ALL_RULES as LINT_RULES
from mlkube.rules.model import Rule
from mlkube.rules.preflight import RULES as PREFLIGHT_RULES

ALL_RULES: tuple[Rule[Any], ...] = (*LINT_RULES, *DOCTOR_RULES, *PREFLIGHT_RULES)
