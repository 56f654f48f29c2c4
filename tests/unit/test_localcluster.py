"""The local cluster's pure parts: nodes from a Platform, command lines, webhooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.crds import module_dir
from mlkube.localcluster import components, controllers
from mlkube.localcluster.binaries import MODULES, Binaries, version
from mlkube.localcluster.components import PORT_NAMES, Layout
from mlkube.localcluster.nodes import platform_nodes
from mlkube.localcluster.pki import Pki
from mlkube.manifests.yamlstream import read_paths
from mlkube.spec import Platform, load_specs

from ..conftest import EXAMPLES

WEBHOOK_MANIFEST = "config/components/webhook/manifests.yaml"  # in Kueue's release


@pytest.fixture
def platform() -> Platform:
    (spec,) = load_specs(read_paths([str(EXAMPLES / "platform.yaml")]))
    assert isinstance(spec.spec, Platform)
    return spec.spec


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path, Pki(tmp_path / "pki"), {n: 20000 + i for i, n in enumerate(PORT_NAMES)})


BINARIES = Binaries({n: Path(f"/cache/{n}") for n in (
    "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kueue",
    "training-operator", "jobset", "trainer",
)})  # fmt: skip


def test_nodes_are_shaped_like_the_pools(platform: Platform) -> None:
    nodes = {n["metadata"]["name"]: n for n in platform_nodes(platform)}
    assert len(nodes) == sum(p.nodes for p in platform.spec.pools)
    a100 = nodes["a100-1"]
    labels = a100["metadata"]["labels"]
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
    assert labels["feature.node.kubernetes.io/pci-10de.present"] == "true"
    assert labels["topology.kubernetes.io/zone"] == "us-east-1b"  # zones round-robin
    assert a100["status"]["capacity"]["nvidia.com/gpu"] == "8"
    assert a100["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]
    assert a100["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    spot = nodes["a100-spot-0"]["metadata"]["labels"]
    assert spot["eks.amazonaws.com/capacityType"] == "SPOT"
    sliced = nodes["t4-dev-0"]
    assert sliced["status"]["allocatable"]["nvidia.com/gpu"] == "4"  # 1 GPU x 4 replicas
    assert sliced["metadata"]["labels"]["nvidia.com/gpu.product"] == "Tesla-T4-SHARED"
    assert sliced["metadata"]["labels"]["nvidia.com/gpu.sharing-strategy"] == "time-slicing"


def test_every_configurable_address_is_loopback(layout: Layout, tmp_path: Path) -> None:
    # The Training Operator's webhook server has no host flag: it listens on every
    # interface (a random high port; see docs/testbed.md).
    argvs = [
        components.etcd(BINARIES, layout),
        components.apiserver(BINARIES, layout),
        components.controller_manager(BINARIES, layout),
        components.scheduler(BINARIES, layout),
        components.kwok(BINARIES, layout, tmp_path / "stages.yaml"),
        controllers.training_argv(BINARIES, layout),
    ]
    for argv in argvs:
        addresses = [a for a in argv if "address" in a or "urls" in a]
        assert addresses, argv[0]
        for arg in addresses:
            assert "127.0.0.1" in arg and "0.0.0.0" not in arg, arg
    for config in (
        controllers.kueue_config(layout),
        controllers.jobset_config(layout),
        controllers.trainer_config(layout),
    ):
        assert config["webhook"]["host"] == "127.0.0.1"
        assert config["health"]["healthProbeBindAddress"].startswith("127.0.0.1:")
        assert config["metrics"]["bindAddress"].startswith("127.0.0.1:")


def test_kueue_webhooks_cover_only_what_this_configuration_serves(layout: Layout) -> None:
    layout.pki.root.mkdir()
    layout.pki.ca.write_bytes(b"-----CA-----")
    configs = controllers.kueue_webhooks(layout)
    # What Kueue must intercept here, by resource: the frameworks it is configured for
    # (batch/v1 Job, the TrainJob, the legacy PyTorchJob) and its own kinds. Read from
    # Kueue's released manifest, not from our list: every webhook there on these
    # resources, none other.
    served = {
        "jobs", "trainjobs", "pytorchjobs", "clusterqueues", "cohorts", "resourceflavors",
        "workloads",
    }  # fmt: skip

    def resources(webhook: dict[str, Any]) -> set[str]:
        return {r.split("/")[0] for rule in webhook["rules"] for r in rule["resources"]}

    manifest = module_dir(MODULES["kueue"], version("kueue")) / WEBHOOK_MANIFEST
    released = [
        w for doc in yaml.safe_load_all(manifest.read_text()) if doc for w in doc["webhooks"]
    ]
    kept = [w for c in configs for w in c["webhooks"]]
    assert {w["name"] for w in kept} == {w["name"] for w in released if resources(w) <= served}
    assert set().union(*(resources(w) for w in kept)) == served
    for config in configs:
        assert config["metadata"]["name"].startswith("kueue-")
        for webhook in config["webhooks"]:
            url = webhook["clientConfig"]["url"]
            assert url.startswith(f"https://127.0.0.1:{layout.ports['kueue-webhook']}/")
    (training,) = controllers.training_webhooks(layout)
    assert [w["name"] for w in training["webhooks"]] == [
        "validator.pytorchjob.training-operator.kubeflow.org"
    ]


def test_jobset_and_trainer_webhooks_are_the_releases_renamed_for_their_rotators(
    layout: Layout,
) -> None:
    layout.pki.root.mkdir()
    layout.pki.ca.write_bytes(b"-----CA-----")
    jobset = {c["metadata"]["name"]: c for c in controllers.jobset_webhooks(layout)}
    # The names JobSet's certificate rotator injects its CA bundle into (pkg/util/cert).
    assert set(jobset) == {
        "jobset-mutating-webhook-configuration",
        "jobset-validating-webhook-configuration",
    }
    for config in jobset.values():
        pods = [w for w in config["webhooks"] if w["rules"][0]["resources"] == ["pods"]]
        # The release's kustomize patch: only the pods of a JobSet pass its pod webhooks,
        # so that every other pod of the cluster does not depend on the JobSet controller.
        assert len(pods) == 1
        assert pods[0]["objectSelector"] == {
            "matchExpressions": [{"key": "jobset.sigs.k8s.io/jobset-name", "operator": "Exists"}]
        }
        for w in config["webhooks"]:
            assert w["clientConfig"]["url"].startswith(
                f"https://127.0.0.1:{layout.ports['jobset-webhook']}/"
            )
    trainer = {c["metadata"]["name"]: c for c in controllers.trainer_webhooks(layout)}
    # cmd/trainer-controller-manager/main.go names them so for its rotator.
    assert set(trainer) == {"defaulter.trainer.kubeflow.org", "validator.trainer.kubeflow.org"}
    hooked = {w["rules"][0]["resources"][0] for c in trainer.values() for w in c["webhooks"]}
    assert hooked == {"trainjobs", "trainingruntimes", "clustertrainingruntimes"}
