"""The real CRDs of the ML controllers mlkube renders for, from their published
releases on the Go module proxy (never hand-written).

``go mod download`` fetches a release into Go's module cache (so it is cached by
version, outside the repository) and prints its directory; the CRD files are read
from there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlkube.errors import MlkubeError


@dataclass(frozen=True)
class CrdRelease:
    module: str
    version: str
    files: tuple[str, ...]


# libyaml when present: the KServe LLM and KubeRay CRDs are megabytes each.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_KUEUE = (
    "resourceflavors",
    "clusterqueues",
    "localqueues",
    "workloads",
    "workloadpriorityclasses",
    "cohorts",
    "admissionchecks",
    "topologies",
    "provisioningrequestconfigs",
    "multikueueconfigs",
    "multikueueclusters",
)

_TRAINER = ("clustertrainingruntimes", "trainingruntimes", "trainjobs")

RELEASES = (
    CrdRelease(
        "github.com/kubeflow/trainer/v2",
        "v2.3.0",
        tuple(f"manifests/base/crds/trainer.kubeflow.org_{name}.yaml" for name in _TRAINER),
    ),
    CrdRelease(
        "sigs.k8s.io/jobset",
        "v0.12.0",
        ("config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml",),
    ),
    CrdRelease(
        "github.com/kubeflow/training-operator",
        "v1.9.4",
        ("manifests/base/crds/kubeflow.org_pytorchjobs.yaml",),
    ),
    CrdRelease(
        "github.com/kserve/kserve",
        "v0.16.0",
        ("config/crd/full/serving.kserve.io_inferenceservices.yaml",),
    ),
    CrdRelease(
        "sigs.k8s.io/kueue",
        "v0.19.2",
        tuple(f"config/components/crd/bases/kueue.x-k8s.io_{name}.yaml" for name in _KUEUE),
    ),
)


_RAY = ("rayclusters", "rayjobs", "rayservices", "raycronjobs")
_KSERVE_LLM = "config/crd/full/llmisvc/serving.kserve.io_llminference"

# The CRDs of kinds lint looks inside that the local cluster does not run (so they are not
# installed there): fixtures of those kinds are validated against them. Volcano's CRDs are
# not here: its release module (volcano.sh/volcano) is not on the Go module proxy, only
# its API types (volcano.sh/apis), which the Volcano extractors follow.
LINT_RELEASES = (
    CrdRelease(
        "sigs.k8s.io/lws",
        "v0.9.0",
        (
            "config/crd/bases/leaderworkerset.x-k8s.io_leaderworkersets.yaml",
            "config/crd/bases/disaggregatedset.x-k8s.io_disaggregatedsets.yaml",
        ),
    ),
    CrdRelease(
        "github.com/ray-project/kuberay/ray-operator",
        "v1.6.2",
        tuple(f"config/crd/bases/ray.io_{name}.yaml" for name in _RAY),
    ),
    CrdRelease(
        "github.com/project-codeflare/appwrapper",
        "v1.2.2",
        ("config/crd/bases/workload.codeflare.dev_appwrappers.yaml",),
    ),
    CrdRelease(
        "github.com/kserve/kserve",
        "v0.20.0",
        (
            "config/crd/full/serving.kserve.io_servingruntimes.yaml",
            "config/crd/full/serving.kserve.io_clusterservingruntimes.yaml",
            f"{_KSERVE_LLM}services.yaml",
            f"{_KSERVE_LLM}serviceconfigs.yaml",
        ),
    ),
)


def module_dir(module: str, version: str) -> Path:
    go = shutil.which("go")
    if go is None:
        raise MlkubeError("the Go toolchain is needed to fetch CRDs (go mod download)")
    proc = subprocess.run(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        cwd=Path.home(),
    )
    info = json.loads(proc.stdout or "{}")
    if proc.returncode != 0 or "Dir" not in info:
        detail = info.get("Error") or proc.stderr.strip() or "no output"
        raise MlkubeError(f"go mod download {module}@{version}: {detail}")
    return Path(info["Dir"])


def load_crds(releases: tuple[CrdRelease, ...] = RELEASES) -> list[dict[str, Any]]:
    """Every CRD object of every release (by default those the local cluster installs),
    fetched on first use."""
    crds: list[dict[str, Any]] = []
    for release in releases:
        root = module_dir(release.module, release.version)
        for name in release.files:
            with (root / name).open() as f:
                crds.extend(d for d in yaml.load_all(f, Loader=_LOADER) if d)
    return crds
