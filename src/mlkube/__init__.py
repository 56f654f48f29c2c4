"""mlkube: ML workloads on Kubernetes that are configured right, admitted fairly,
survive spot preemption, and explain themselves when they fail.

The public API is deliberately small; everything else is an implementation detail.
"""

from mlkube.errors import InputError, MlkubeError, UsageError
from mlkube.lint import lint_paths
from mlkube.render import render_paths

__version__ = "0.1.0"
__all__ = ["InputError", "MlkubeError", "UsageError", "__version__", "lint_paths", "render_paths"]
