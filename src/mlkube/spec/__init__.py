"""The mlkube spec (``apiVersion: mlkube.dev/v1alpha1``): Platform, TrainingJob,
InferenceEndpoint. Models in `models`, reading with file/line errors in `load`."""

from mlkube.spec.load import API_VERSION, Spec, SpecFile, is_spec, load_platform, load_specs
from mlkube.spec.models import InferenceEndpoint, Platform, TrainingJob

__all__ = [
    "API_VERSION",
    "InferenceEndpoint",
    "Platform",
    "Spec",
    "SpecFile",
    "TrainingJob",
    "is_spec",
    "load_platform",
    "load_specs",
]
