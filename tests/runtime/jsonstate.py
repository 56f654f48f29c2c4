"""A serializer for the tests that need no torch: state as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class Json:
    def dumps(self, state: Mapping[str, Any]) -> bytes:
        return json.dumps(dict(state)).encode()

    def loads(self, data: bytes) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(data)
        return loaded
