"""The golden bundles: what rendering each example gives. Updating them is a separate,
deliberate step (``make golden``, then review the diff), never part of a test run.
"""

from __future__ import annotations

from pathlib import Path

from mlkube.render import render_paths
from mlkube.render.output import to_stream

EXAMPLES = Path(__file__).parents[1] / "examples"
GOLDEN = Path(__file__).parent / "golden"
NAMES = sorted(p.name for p in EXAMPLES.glob("*.yaml"))


def rendered(name: str) -> str:
    """The example ``name`` rendered with the Platform (or the Platform alone)."""
    paths = [EXAMPLES / "platform.yaml"] + ([] if name == "platform.yaml" else [EXAMPLES / name])
    return to_stream(render_paths([str(p) for p in paths]))


if __name__ == "__main__":
    for name in NAMES:
        (GOLDEN / name).write_text(rendered(name))
        print(f"wrote {GOLDEN / name}")
