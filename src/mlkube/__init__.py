"""mlkube: ML workloads on Kubernetes that are configured right, admitted fairly,
survive spot preemption, and explain themselves when they fail.

The public API is deliberately small; everything else is an implementation detail.
Importing this package costs almost nothing: the linter, the renderer and pydantic
load when first used, so that ``import mlkube.runtime`` in every training rank does
not pay for them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mlkube.errors import InputError, MlkubeError, UsageError

if TYPE_CHECKING:
    from mlkube.lint import lint_paths
    from mlkube.render import render_paths

    __version__: str

_LAZY = {"lint_paths": "mlkube.lint", "render_paths": "mlkube.render"}

__all__ = ["InputError", "MlkubeError", "UsageError", "__version__", "lint_paths", "render_paths"]


def _version() -> str:
    """One place for the version: the package metadata (importlib.metadata alone costs
    tens of milliseconds, so it is read only when asked for)."""
    from importlib import metadata  # noqa: PLC0415 - only when the version is asked for

    try:
        return metadata.version("mlkube")
    except metadata.PackageNotFoundError:  # pragma: no cover - a bare source tree
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = version = _version()
        return version
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlkube' has no attribute {name!r}")
