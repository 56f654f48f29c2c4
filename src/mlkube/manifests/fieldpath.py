"""Where a value sits in an object: ``("spec", "containers", 0, "image")``.

Apart from the YAML reader (`yamlstream`, which maps a path back to a line), so that
the rules, which name paths but read no YAML, load without PyYAML.
"""

from __future__ import annotations

FieldPath = tuple[str | int, ...]
