"""The Platform the cluster holds: applied with the rest of the Platform's bundle as
the ConfigMap kube-system/mlkube-platform, read back so that a TrainingJob or an
InferenceEndpoint applied on its own resolves its pool, queue and priority."""

from __future__ import annotations

from dataclasses import dataclass

from mlkube.cluster.client import ApiError, Kube
from mlkube.errors import ClusterError
from mlkube.manifests.yamlstream import read_text
from mlkube.render.platform import STORED_KEY, STORED_NAME, STORED_NAMESPACE
from mlkube.spec import Platform, load_specs

WHERE = f"ConfigMap {STORED_NAMESPACE}/{STORED_NAME}"


@dataclass(frozen=True)
class StoredPlatform:
    """The cluster's Platform, if any, and how to name where it came from in errors."""

    platform: Platform | None
    origin: str


def stored_platform(kube: Kube) -> StoredPlatform:
    try:
        config = kube.get("v1", "ConfigMap", STORED_NAME, STORED_NAMESPACE)
    except ApiError as exc:
        if exc.status != 403:
            raise
        return StoredPlatform(
            None,
            f"a Platform: none in the input, and the cluster's ({WHERE}) cannot be read"
            f" ({exc.message}): pass the Platform file along, or ask for get on it",
        )
    if config is None:
        return StoredPlatform(
            None,
            f"a Platform: none in the input, and none on the cluster (no {WHERE}):"
            " apply the Platform first (mlkube apply platform.yaml), or pass it along",
        )
    text = (config.get("data") or {}).get(STORED_KEY)
    if not isinstance(text, str) or not text.strip():
        raise ClusterError(f"{WHERE} has no {STORED_KEY}: apply the Platform again")
    specs = [f for f in load_specs(read_text(text, WHERE)) if isinstance(f.spec, Platform)]
    if len(specs) != 1:
        raise ClusterError(f"{WHERE} holds {len(specs)} Platforms: apply the Platform again")
    platform = specs[0].spec
    assert isinstance(platform, Platform)
    return StoredPlatform(platform, f"the cluster's Platform {platform.metadata.name!r} ({WHERE})")
