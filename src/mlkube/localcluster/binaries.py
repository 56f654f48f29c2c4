"""The cluster's binaries: built by ``tools/build.sh`` from the Go module proxy into a
per-version cache outside the repository, and found there by version.

Each component's version is the one its tools module pins (``tools/<c>/go.mod``),
so the cache directory name and the build agree without a second list.

``tools/`` is found in the source checkout, else where the installed package put it
(the wheel ships ``build.sh`` and each module's ``go.mod``/``go.sum`` as data files
under ``<prefix>/share/mlkube/tools``, see pyproject.toml), else at ``$MLKUBE_TOOLS``:
`cluster up` works from ``pip install mlkube`` as from a checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlkube.errors import MlkubeError

CHECKOUT_TOOLS = Path(__file__).resolve().parents[3] / "tools"
INSTALLED_TOOLS = Path("share") / "mlkube" / "tools"  # under the install prefix
MODULES = {
    "k8s": "k8s.io/kubernetes",
    "etcd": "go.etcd.io/etcd/server/v3",
    "kwok": "sigs.k8s.io/kwok",
    "kueue": "sigs.k8s.io/kueue",
    "jobset": "sigs.k8s.io/jobset",
    "trainer": "github.com/kubeflow/trainer/v2",
    "training-operator": "github.com/kubeflow/training-operator",
    # not part of a cluster: the kubelet's downwardAPI writer, for the runtime's tests
    "kubelet-writer": "k8s.io/kubernetes",
    # not part of a cluster either: the Helm chart's and the kubectl plugin's tests
    "helm": "helm.sh/helm/v4",
    "kubectl": "k8s.io/kubernetes",
    # `cluster up --serving`: KServe's controller manager
    "kserve": "github.com/kserve/kserve",
    # the GPU metrics pipeline, only with `cluster up --gpu-metrics`
    "prometheus": "github.com/prometheus/prometheus",
    "prometheus-adapter": "sigs.k8s.io/prometheus-adapter",
    # the resource metrics pipeline, only with `cluster up --cpu-metrics`
    "metrics-server": "sigs.k8s.io/metrics-server",
}
CLUSTER = ("k8s", "etcd", "kwok", "kueue", "jobset", "trainer", "training-operator")
SERVING = ("kserve",)  # started only when asked (`cluster up --serving`)
GPU_METRICS = ("prometheus", "prometheus-adapter")  # only with `cluster up --gpu-metrics`
CPU_METRICS = ("metrics-server",)  # only with `cluster up --cpu-metrics`; not in build.sh's default
BINARIES = {
    "kube-apiserver": "k8s",
    "kube-controller-manager": "k8s",
    "kube-scheduler": "k8s",
    "etcd": "etcd",
    "kwok": "kwok",
    "kueue": "kueue",
    "jobset": "jobset",
    "trainer": "trainer",
    "training-operator": "training-operator",
    "atomic-writer": "kubelet-writer",
    "helm": "helm",
    "kubectl": "kubectl",
    "kserve-manager": "kserve",
    "prometheus": "prometheus",
    "prometheus-adapter": "prometheus-adapter",
    "metrics-server": "metrics-server",
}


def cache_root() -> Path:
    return Path(os.environ.get("MLKUBE_CACHE") or Path.home() / ".cache" / "mlkube")


def tools_dir(candidates: Sequence[Path] | None = None) -> Path:
    """The first directory that holds ``build.sh`` and every component's ``go.mod``."""
    if candidates is None:
        env = os.environ.get("MLKUBE_TOOLS")
        prefixes = dict.fromkeys(
            Path(p) for p in (sysconfig.get_path("data"), sys.prefix, sys.base_prefix)
        )
        candidates = [
            *([Path(env)] if env else []),
            CHECKOUT_TOOLS,
            *(prefix / INSTALLED_TOOLS for prefix in prefixes),
        ]
    for path in candidates:
        if (path / "build.sh").is_file() and all((path / c / "go.mod").is_file() for c in MODULES):
            return path
    raise MlkubeError(
        "cannot find mlkube's tools/ (build.sh and the components' go.mod): looked in "
        + ", ".join(str(p) for p in candidates)
        + "; reinstall mlkube, or set MLKUBE_TOOLS to a checkout's tools/ directory"
    )


def version(component: str) -> str:
    gomod = tools_dir() / component / "go.mod"
    match = re.search(
        rf"^\s*(?:require\s+)?{re.escape(MODULES[component])}\s+(v\S+)", gomod.read_text(), re.M
    )
    if not match:
        raise MlkubeError(f"{gomod}: does not pin {MODULES[component]}")
    return match.group(1)


@dataclass(frozen=True)
class Binaries:
    """Paths of the built binaries, by name."""

    paths: dict[str, Path]

    def __getitem__(self, name: str) -> str:
        return str(self.paths[name])


def locate(components: tuple[str, ...] = CLUSTER) -> Binaries | None:
    paths = {}
    for binary, component in BINARIES.items():
        if component not in components:
            continue
        path = cache_root() / "bin" / f"{component}-{version(component)}" / binary
        if not path.is_file():
            return None
        paths[binary] = path
    return Binaries(paths)


def ensure(components: tuple[str, ...] = CLUSTER) -> Binaries:
    """The binaries, building what the cache lacks (progress on stderr)."""
    found = locate(components)
    if found is not None:
        return found
    print("mlkube: building the cluster binaries (cached for later runs)…", file=sys.stderr)
    proc = subprocess.run(
        ["bash", str(tools_dir() / "build.sh"), *components], stdout=sys.stderr, check=False
    )
    if proc.returncode != 0:
        raise MlkubeError(f"tools/build.sh failed (exit {proc.returncode}); see its output above")
    found = locate(components)
    if found is None:
        raise MlkubeError("tools/build.sh finished but binaries are missing from the cache")
    return found
