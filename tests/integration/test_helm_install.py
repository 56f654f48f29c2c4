"""`helm install`, `upgrade` and `uninstall` of the controller's chart on the local
cluster, with the real Helm: the Deployment becomes Available (KWOK's pod-ready stage
makes its pods Running and Ready, as a kubelet would for a passing readiness probe), on
no spot node, and uninstall removes what install made."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.cluster.client import Kube
from mlkube.manifests.objects import condition
from mlkube.wellknown import SPOT_LABELS

from ..conftest import ROOT
from ..packaging.tools import built
from .waiting import until

CHART = ROOT / "deploy" / "helm" / "mlkube-controller"
NAMESPACE = "mlkube-helm"
RELEASE = "mlkube-controller"


@dataclass
class Helm:
    binary: Path
    kubeconfig: Path
    values: Path

    def __call__(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            [str(self.binary), *args, "--kubeconfig", str(self.kubeconfig),
             "--namespace", NAMESPACE],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0 or not check, f"helm {' '.join(args)}: {proc.stderr}"
        return proc.stdout


@pytest.fixture
def helm(local_cluster: Path, kube: Kube, tmp_path: Path) -> Iterator[Helm]:
    # Every fake node is tainted (GPU pools, and spot besides): tolerate them all, so
    # that only the chart's affinity keeps the controller off the spot nodes.
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"tolerations": [{"operator": "Exists"}]}))
    helm = Helm(built("helm", "helm"), local_cluster, values)
    try:
        yield helm
    finally:
        helm("uninstall", RELEASE, "--ignore-not-found", check=False)
        kube.delete("v1", "Namespace", NAMESPACE)


def _not_spot(node: dict[str, Any]) -> bool:
    labels = node["metadata"].get("labels", {})
    return not any(labels.get(key) == value for (key, value) in SPOT_LABELS)


def _available(kube: Kube, replicas: int) -> dict[str, Any] | None:
    deployment = kube.get("apps/v1", "Deployment", RELEASE, NAMESPACE)
    if deployment is None:
        return None
    status = deployment.get("status", {})
    ready = condition(deployment, "Available")
    if ready and ready.get("status") == "True" and status.get("availableReplicas") == replicas:
        return deployment
    return None


def _pod_nodes(kube: Kube) -> list[dict[str, Any]]:
    pods = kube.list("v1", "Pod", NAMESPACE, selector="app.kubernetes.io/instance=" + RELEASE)
    running = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
    return [kube.get("v1", "Node", p["spec"]["nodeName"]) or {} for p in running]


def test_install_upgrade_uninstall(kube: Kube, helm: Helm) -> None:
    helm("install", RELEASE, str(CHART), "--create-namespace", "--values", str(helm.values))
    until("the controller Deployment Available with 2 replicas", lambda: _available(kube, 2))
    nodes = _pod_nodes(kube)
    assert len(nodes) == 2 and all(_not_spot(n) for n in nodes), nodes
    assert kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", RELEASE) is not None

    helm("upgrade", RELEASE, str(CHART), "--reuse-values", "--set", "replicas=3")
    until("the upgraded Deployment Available with 3 replicas", lambda: _available(kube, 3))
    nodes = _pod_nodes(kube)
    assert len(nodes) == 3 and all(_not_spot(n) for n in nodes), nodes
    assert '"version":2' in helm("status", RELEASE, "--output", "json").replace(" ", "")

    helm("uninstall", RELEASE, "--wait")
    until(
        "the Deployment gone", lambda: kube.get("apps/v1", "Deployment", RELEASE, NAMESPACE) is None
    )
    assert kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", RELEASE) is None
    assert kube.get("v1", "ServiceAccount", RELEASE, NAMESPACE) is None


def test_kubectl_mlkube_doctor_reads_the_cluster(local_cluster: Path) -> None:
    """kubectl hands the plugin its flags: `kubectl mlkube doctor` reaches the cluster
    named by --kubeconfig, as `mlkube doctor` does."""
    kubectl = built("kubectl", "kubectl")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/nonexistent"}
    proc = subprocess.run(
        [str(kubectl), "mlkube", "doctor", "-A", "--kubeconfig", str(local_cluster),
         "--format", "json"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr  # 1: findings, which a test cluster has
    summary = json.loads(proc.stdout)["summary"]
    assert summary["findings"] == len(json.loads(proc.stdout)["findings"])
    unreachable = subprocess.run(
        [str(kubectl), "mlkube", "doctor", "-A", "--kubeconfig", str(local_cluster) + ".none"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert unreachable.returncode == 2 and "mlkube:" in unreachable.stderr
