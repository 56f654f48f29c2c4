"""`mlkube apply` as kubectl's server-side apply, on the local cluster: a CRD and its
objects in one apply, conflicts with other field managers, and jobs applied without
their Platform (resolved against the one the cluster holds). Every test leaves the
cluster as it found it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlkube.cluster.apply import CRD, apply_objects
from mlkube.cluster.client import Kube
from mlkube.cluster.waiting import Watched, until
from mlkube.render import render_specs
from mlkube.render.platform import STORED_NAME, STORED_NAMESPACE
from mlkube.spec import load_platform

from ..conftest import EXAMPLES, Run
from .jobs import delete_job, pod_templates

# The CronTab CRD and object of the Kubernetes documentation, "Extend the Kubernetes
# API with CustomResourceDefinitions" (kubernetes/website,
# content/en/examples/customresourcedefinition/ and my-crontab.yaml), in one file as a
# user would keep them. The group is this test's own.
CRONTAB = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.apply-test.mlkube.dev
spec:
  group: apply-test.mlkube.dev
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                cronSpec: {type: string}
                image: {type: string}
                replicas: {type: integer}
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
---
apiVersion: apply-test.mlkube.dev/v1
kind: CronTab
metadata:
  name: my-new-cron-object
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
"""
CRD_NAME = "crontabs.apply-test.mlkube.dev"
CRONTAB_API = "apply-test.mlkube.dev/v1"

JOB = """\
apiVersion: mlkube.dev/v1alpha1
kind: TrainingJob
metadata: {name: apply-alone, namespace: ml-training}
spec:
  image: trainer:1.0
  nodes: 1
  gpusPerNode: 1
  pool: a100
  cpu: "4"
  memory: 16Gi
  priority: ml-training-high
  queue: training
"""


def gone(kube: Kube, api_version: str, kind: str, name: str, namespace: str | None) -> None:
    watched = Watched(kube, api_version, kind, name, namespace)
    until(
        f"{kind} {name} to be deleted",
        lambda: True if watched.get() is None else None,
        timeout=60,
        wake=watched.wake,
        every=2,
    )


@pytest.fixture
def crontab(tmp_path: Path, kube: Kube) -> Iterator[Path]:
    path = tmp_path / "crontab.yaml"
    path.write_text(CRONTAB)
    assert kube.get(*CRD, CRD_NAME) is None
    yield path
    if kube.delete(*CRD, CRD_NAME):  # its objects go with it
        gone(kube, *CRD, CRD_NAME, None)


def test_a_crd_and_its_object_apply_together(
    crontab: Path, kube: Kube, local_cluster: Path, mlkube: Run
) -> None:
    result = mlkube("apply", str(crontab), kubeconfig=local_cluster)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"customresourcedefinition {CRD_NAME} created",
        "crontab default/my-new-cron-object created",
    ]
    obj = kube.get(CRONTAB_API, "CronTab", "my-new-cron-object", "default")
    assert obj is not None and obj["spec"]["image"] == "my-awesome-cron-image"
    again = mlkube("apply", str(crontab), kubeconfig=local_cluster)
    assert again.code == 0 and "nothing to change" in again.err


def test_a_server_dry_run_checks_the_crd_and_says_its_objects_were_not(
    crontab: Path, kube: Kube, local_cluster: Path, mlkube: Run
) -> None:
    result = mlkube("apply", str(crontab), "--dry-run=server", kubeconfig=local_cluster)
    assert result.code == 0, result.err
    crd_line, object_line = result.out.splitlines()
    assert crd_line == f"customresourcedefinition {CRD_NAME} created (server dry run)"
    assert object_line.startswith("crontab default/my-new-cron-object not checked")
    assert CRD_NAME in object_line and "1 not checked" in result.err
    assert kube.get(*CRD, CRD_NAME) is None  # a dry run persists nothing


def test_a_kind_nobody_serves_is_refused_before_anything_is_written(
    tmp_path: Path, kube: Kube, local_cluster: Path, mlkube: Run
) -> None:
    path = tmp_path / "mixed.yaml"
    crontab_only = CRONTAB.split("---\n", 1)[1]  # the object without its CRD
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: apply-test-first}\n---\n" + crontab_only
    )
    result = mlkube("apply", str(path), kubeconfig=local_cluster)
    assert result.code == 2
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert "CronTab my-new-cron-object" in result.err and "install its CRD" in result.err
    assert kube.get("v1", "ConfigMap", "apply-test-first", "default") is None


def _apply_as(kube: Kube, manager: str, obj: dict[str, Any]) -> None:
    """Server-side apply as another tool would (its own field manager)."""
    path = kube.resource("v1", "ConfigMap").path("default", obj["metadata"]["name"])
    kube.request(
        "PATCH",
        path,
        params={"fieldManager": manager},
        content=json.dumps(obj),
        headers={"Content-Type": "application/apply-patch+yaml"},
    )


@pytest.fixture
def owned(kube: Kube, tmp_path: Path) -> Iterator[Path]:
    """A ConfigMap whose data.mode another manager set, and a file that sets it too."""
    name = "apply-test-owned"
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    _apply_as(kube, "platform-team", {**obj, "data": {"mode": "strict"}})
    yield tmp_path
    kube.delete("v1", "ConfigMap", name, "default")


def _configmap(path: Path, mode: str) -> Path:
    path.write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: apply-test-owned}}\n"
        f"data: {{mode: {mode}}}\n"
    )
    return path


def test_a_field_another_manager_owns_is_a_conflict_naming_both(
    owned: Path, kube: Kube, local_cluster: Path, mlkube: Run
) -> None:
    result = mlkube("apply", str(_configmap(owned / "cm.yaml", "lax")), kubeconfig=local_cluster)
    assert result.code == 4
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert "configmap default/apply-test-owned: conflict" in result.err
    assert '.data.mode owned by field manager "platform-team"' in result.err
    assert "--force-conflicts" in result.err
    live = kube.get("v1", "ConfigMap", "apply-test-owned", "default")
    assert live is not None and live["data"]["mode"] == "strict"  # not overridden


def test_the_same_value_is_shared_not_a_conflict(
    owned: Path, kube: Kube, local_cluster: Path, mlkube: Run
) -> None:
    same = _configmap(owned / "cm.yaml", "strict")
    result = mlkube("apply", str(same), kubeconfig=local_cluster)
    assert result.code == 0, result.err


def test_force_conflicts_takes_the_field_over(
    owned: Path, kube: Kube, local_cluster: Path, mlkube: Run
) -> None:
    path = _configmap(owned / "cm.yaml", "lax")
    result = mlkube("apply", str(path), "--force-conflicts", kubeconfig=local_cluster)
    assert result.code == 0, result.err
    assert result.out.strip() == "configmap default/apply-test-owned configured"
    live = kube.get("v1", "ConfigMap", "apply-test-owned", "default")
    assert live is not None and live["data"]["mode"] == "lax"
    owners = {
        m["manager"]
        for m in live["metadata"]["managedFields"]
        if "f:mode" in m.get("fieldsV1", {}).get("f:data", {})
    }
    assert owners == {"mlkube"}


@pytest.fixture
def job_file(tmp_path: Path, kube: Kube) -> Iterator[Path]:
    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    yield path
    delete_job(kube, "apply-alone")


def test_a_job_alone_uses_the_platform_on_the_cluster_and_wait_follows_it(
    job_file: Path, kube: Kube, local_cluster: Path, mlkube: Run
) -> None:
    stored = kube.get("v1", "ConfigMap", STORED_NAME, STORED_NAMESPACE)
    assert stored is not None  # `cluster up` applied the Platform, and with it this
    result = mlkube("apply", str(job_file), kubeconfig=local_cluster)
    assert result.code == 0, result.err
    # The cluster's Platform names no operator: Kubeflow Trainer v2, the default.
    assert result.out.splitlines() == ["trainjob ml-training/apply-alone created"]
    job = kube.get("trainer.kubeflow.org/v1alpha1", "TrainJob", "apply-alone", "ml-training")
    assert job is not None
    (pod,) = pod_templates(job)
    assert pod["spec"]["nodeSelector"]["mlkube.dev/pool"] == "a100"  # the cluster's pool
    waited = mlkube(
        "wait", "apply-alone", "-n", "ml-training", "--for=Succeeded", "--timeout=3m",
        kubeconfig=local_cluster,
    )  # fmt: skip
    assert waited.code == 0, waited.err
    assert waited.out.splitlines()[-1].startswith("TrainJob ml-training/apply-alone: Succeeded")


@pytest.fixture
def no_stored_platform(kube: Kube) -> Iterator[None]:
    assert kube.delete("v1", "ConfigMap", STORED_NAME, STORED_NAMESPACE)
    yield
    platform = load_platform(str(EXAMPLES / "platform.yaml"))
    stored = [o for o in render_specs([platform]) if o["metadata"]["name"] == STORED_NAME]
    apply_objects(kube, stored)


def test_a_job_alone_without_a_platform_anywhere_is_one_clear_line(
    job_file: Path, no_stored_platform: None, kube: Kube, local_cluster: Path, mlkube: Run
) -> None:
    result = mlkube("apply", str(job_file), "--dry-run=server", kubeconfig=local_cluster)
    assert result.code == 2
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert result.err.startswith(f"mlkube: {job_file}:8: spec.pool: pool 'a100' is not defined")
    assert f"none on the cluster (no ConfigMap {STORED_NAMESPACE}/{STORED_NAME})" in result.err
    assert "apply the Platform first" in result.err
    assert result.out == ""


def test_a_watch_wakes_on_the_objects_change(kube: Kube) -> None:
    name = "apply-test-watched"
    apply_objects(kube, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}])
    try:
        watched = Watched(kube, "v1", "ConfigMap", name, "default")
        assert watched.get() is not None
        woke = threading.Event()

        def wait() -> None:
            watched.wake(120)
            woke.set()

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        assert not woke.wait(1)  # nothing changed: still waiting
        kube.patch("v1", "ConfigMap", name, {"data": {"k": "v"}}, "default")
        assert woke.wait(30)  # woken by the change, long before its 120 s
    finally:
        kube.delete("v1", "ConfigMap", name, "default")
