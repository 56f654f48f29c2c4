"""mlkube: ML workloads on Kubernetes that are configured right, admitted fairly,
survive spot preemption, and explain themselves when they fail.

The public API is ``__all__``: a function for what each verb of the CLI does
(`load_specs`, `render`, `lint`, `doctor`, `preflight`, `plan`), the types they return,
and the errors they raise; docs/api.md shows each. Everything else is an
implementation detail.

Importing this package costs almost nothing: each name loads its module when first
used, so that ``import mlkube.runtime`` in every training rank does not pay for
pydantic, and ``mlkube.lint`` never loads the cluster client.

Five names are also submodules (``mlkube.lint``, ``mlkube.doctor``, ``mlkube.preflight``
and the packages ``mlkube.render`` and ``mlkube.plan``): as attributes of the package
they are always the functions (the import system's binding of a submodule to its
parent is refused for them); ``from mlkube.lint import lint_paths`` still imports the
module.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

from mlkube.errors import ClusterError, InputError, MlkubeError, Unreachable, UsageError

if TYPE_CHECKING:
    from mlkube.api import (
        PreflightReport,
        connect,
        doctor,
        lint,
        load_specs,
        plan,
        preflight,
        render,
    )
    from mlkube.lint import Report, lint_paths
    from mlkube.manifests.objects import Location
    from mlkube.plan.types import PlanResult
    from mlkube.render import Bundle, render_paths
    from mlkube.rules.model import Finding, Severity
    from mlkube.snapshots.evidence import Evidence
    from mlkube.spec.load import SpecFile

    __version__: str

# name → the module that defines it, imported on first use
_LAZY = {
    "load_specs": "mlkube.api",
    "render": "mlkube.api",
    "lint": "mlkube.api",
    "doctor": "mlkube.api",
    "preflight": "mlkube.api",
    "plan": "mlkube.api",
    "connect": "mlkube.api",
    "PreflightReport": "mlkube.api",
    "Report": "mlkube.lint",
    "Finding": "mlkube.rules.model",
    "Location": "mlkube.manifests.objects",
    "Severity": "mlkube.rules.model",
    "Bundle": "mlkube.render",
    "SpecFile": "mlkube.spec.load",
    "Evidence": "mlkube.snapshots.evidence",
    "PlanResult": "mlkube.plan.types",
    "lint_paths": "mlkube.lint",  # the CLI's own entry points, kept for callers of 0.1
    "render_paths": "mlkube.render",
}

__all__ = [
    "Bundle",
    "ClusterError",
    "Evidence",
    "Finding",
    "InputError",
    "Location",
    "MlkubeError",
    "PlanResult",
    "PreflightReport",
    "Report",
    "Severity",
    "SpecFile",
    "Unreachable",
    "UsageError",
    "__version__",
    "connect",
    "doctor",
    "lint",
    "lint_paths",
    "load_specs",
    "plan",
    "preflight",
    "render",
    "render_paths",
]


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


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package, refusing to let a submodule's import replace the API function of
    the same name (``import mlkube.lint`` would otherwise make ``mlkube.lint`` the
    module)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
