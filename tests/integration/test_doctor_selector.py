"""`mlkube doctor -l` on the real local cluster: two Deployments of the same cause (a
claim nobody created, DK205), told apart by a label on the Deployment and its pods;
-l keeps the findings of the workload that matches, as kubectl's -l would list it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import Kube

from ..conftest import Run
from .conftest import Namespaces
from .waiting import until

NAMESPACE = "dk-select"


def _server(name: str, team: str) -> dict[str, Any]:
    """A server mounting a claim nobody created: its pods stay Pending (DK205)."""
    labels = {"app": name, "team": team}
    container = {"name": "s", "image": "registry.example/server:1.0",
                 "volumeMounts": [{"name": "w", "mountPath": "/models"}]}  # fmt: skip
    volumes = [{"name": "w", "persistentVolumeClaim": {"claimName": "missing"}}]
    pod = {"containers": [container], "tolerations": [{"operator": "Exists"}], "volumes": volumes}
    spec = {"replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": labels}, "spec": pod}}  # fmt: skip
    meta = {"name": name, "namespace": NAMESPACE, "labels": labels}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def _doctor(mlkube: Run, kubeconfig: Path, *args: str) -> list[tuple[str, str]]:
    result = mlkube("doctor", "-n", NAMESPACE, "-o", "json", *args, kubeconfig=kubeconfig)
    assert result.code in (0, 1), result.err
    return [(f["rule"], f["object"]["name"]) for f in json.loads(result.out)["findings"]]


def test_l_keeps_the_workloads_whose_labels_match(
    kube: Kube, local_cluster: Path, mlkube: Run, namespaces: Namespaces
) -> None:
    namespaces(NAMESPACE)
    apply_objects(kube, [_server("alpha", "vision"), _server("beta", "speech")])
    both = [("DK205", "alpha"), ("DK205", "beta")]
    until("both servers diagnosed", lambda: _doctor(mlkube, local_cluster) == both, timeout=120)
    assert _doctor(mlkube, local_cluster, "-l", "team=vision") == [("DK205", "alpha")]
    assert _doctor(mlkube, local_cluster, "--selector", "team notin (vision)") == [
        ("DK205", "beta")
    ]
    assert _doctor(mlkube, local_cluster, "-l", "team in (vision,speech)") == both
    assert _doctor(mlkube, local_cluster, "-l", "team=nobody") == []
