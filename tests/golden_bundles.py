"""The golden bundles: what rendering each example gives. Updating them is a separate,
deliberate step (``make golden``, then review the diff), never part of a test run.

``golden/<example>`` is rendered with examples/platform.yaml (Kubeflow Trainer v2,
the default); ``golden/legacy/<example>`` with the same Platform on the legacy
Training Operator (``training.operator: training-operator``), for the training jobs.
"""

from __future__ import annotations

from pathlib import Path

from mlkube.manifests.yamlstream import read_text
from mlkube.render import render_specs
from mlkube.render.output import to_stream
from mlkube.spec import load_specs

EXAMPLES = Path(__file__).parents[1] / "examples"
GOLDEN = Path(__file__).parent / "golden"
NAMES = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
LEGACY = "legacy"
LEGACY_NAMES = ["platform.yaml", "resnet-training.yaml", "spot-training.yaml"]


def legacy_platform() -> str:
    """examples/platform.yaml with ``spec.training.operator: training-operator``."""
    text = (EXAMPLES / "platform.yaml").read_text()
    assert text.count("\nspec:\n") == 1
    return text.replace("\nspec:\n", "\nspec:\n  training:\n    operator: training-operator\n")


def rendered(name: str, legacy: bool = False) -> str:
    """The example ``name`` rendered with the Platform (or the Platform alone)."""
    platform = legacy_platform() if legacy else (EXAMPLES / "platform.yaml").read_text()
    docs = read_text(platform, str(EXAMPLES / "platform.yaml"))
    if name != "platform.yaml":
        docs += read_text((EXAMPLES / name).read_text(), str(EXAMPLES / name))
    return to_stream(render_specs(load_specs(docs)))


def golden(name: str, legacy: bool = False) -> Path:
    return GOLDEN / LEGACY / name if legacy else GOLDEN / name


if __name__ == "__main__":
    (GOLDEN / LEGACY).mkdir(exist_ok=True)
    cases = [(n, False) for n in NAMES] + [(n, True) for n in LEGACY_NAMES]
    for name, legacy in cases:
        golden(name, legacy).write_text(rendered(name, legacy))
        print(f"wrote {golden(name, legacy)}")
