"""KServe on the local cluster, its pure parts: what is taken from the release's install
manifests, what is changed (Standard mode, webhooks by URL), and the manager's flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlkube.localcluster import serving
from mlkube.localcluster.binaries import Binaries
from mlkube.localcluster.components import PORT_NAMES, Layout
from mlkube.localcluster.pki import Pki
from mlkube.localcluster.stages import stages
from mlkube.manifests.yamlstream import read_paths
from mlkube.render import render_specs
from mlkube.spec import load_specs
from mlkube.wellknown import ISVC_LABEL

from ..conftest import EXAMPLES

# The paths cmd/manager/main.go (kserve v0.20.0) registers on its webhook server: the pod
# mutator, the runtime validators, and the defaulter/validators controller-runtime
# names after each kind (/mutate-<group>-<version>-<kind>, /validate-…).
SERVED = {
    "/mutate-pods",
    "/validate-serving-kserve-io-v1alpha1-clusterservingruntime",
    "/validate-serving-kserve-io-v1alpha1-servingruntime",
    "/validate-serving-kserve-io-v1alpha1-trainedmodel",
    "/validate-serving-kserve-io-v1alpha1-inferencegraph",
    "/mutate-serving-kserve-io-v1beta1-inferenceservice",
    "/validate-serving-kserve-io-v1beta1-inferenceservice",
}


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    pki = Pki(tmp_path / "pki")
    pki.root.mkdir()
    pki.ca.write_bytes(b"-----CA-----")
    return Layout(tmp_path, pki, {n: 20000 + i for i, n in enumerate(PORT_NAMES)})


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_webhooks_are_every_path_the_manager_serves_called_by_url(layout: Layout) -> None:
    objects = serving.install_objects(layout)
    hooks = [
        w for o in objects if o["kind"].endswith("WebhookConfiguration") for w in o["webhooks"]
    ]
    prefix = f"https://127.0.0.1:{layout.ports['kserve-webhook']}"
    assert {w["clientConfig"]["url"].removeprefix(prefix) for w in hooks} == SERVED
    assert all(w["clientConfig"]["caBundle"] for w in hooks)
    # The pod mutator sees only the pods of an InferenceService, as released.
    (mutator,) = [w for w in hooks if w["clientConfig"]["url"].endswith("/mutate-pods")]
    assert mutator["objectSelector"] == {
        "matchExpressions": [{"key": ISVC_LABEL, "operator": "Exists"}]
    }
    for config in objects:
        assert "cert-manager.io/inject-ca-from" not in config["metadata"].get("annotations", {})


def test_the_configmap_is_the_releases_in_standard_mode(layout: Layout) -> None:
    (configmap,) = _by_kind(serving.install_objects(layout), "ConfigMap")
    meta = configmap["metadata"]
    assert (meta["name"], meta["namespace"]) == ("inferenceservice-config", "kserve")
    assert json.loads(configmap["data"]["deploy"]) == {"defaultDeploymentMode": "Standard"}
    # Everything else as released: the storage-initializer of v0.20.0, for one.
    initializer = json.loads(configmap["data"]["storageInitializer"])
    assert initializer["image"] == "kserve/storage-initializer:v0.20.0"
    (storage,) = _by_kind(serving.install_objects(layout), "ClusterStorageContainer")
    assert "namespace" not in storage["metadata"]  # cluster-scoped
    assert storage["spec"]["container"]["name"] == "storage-initializer"


def test_the_runtimes_serve_every_model_format_the_examples_use() -> None:
    specs = load_specs(read_paths([str(EXAMPLES)]))
    formats = {
        o["spec"]["predictor"]["model"]["modelFormat"]["name"]
        for o in render_specs(specs)
        if o["kind"] == "InferenceService"
    }
    assert formats == {"sklearn", "huggingface"}
    runtimes = serving.runtimes()
    assert {r["kind"] for r in runtimes} == {"ClusterServingRuntime"}
    served = {
        f["name"]
        for r in runtimes
        for f in r["spec"]["supportedModelFormats"]
        if f.get("autoSelect")
    }
    assert formats <= served


def test_the_crds_are_the_controllers_kinds() -> None:
    names = {c["metadata"]["name"] for c in serving.crds()}
    kinds = ("inferenceservices", "servingruntimes", "clusterservingruntimes", "trainedmodels",
             "inferencegraphs", "clusterstoragecontainers")  # fmt: skip
    assert names == {f"{k}.serving.kserve.io" for k in kinds}


def test_the_manager_binds_what_it_can_to_loopback(layout: Layout) -> None:
    argv = serving.argv(Binaries({"kserve-manager": Path("/cache/kserve-manager")}), layout)
    addresses = [a for a in argv if "-addr=" in a]
    assert len(addresses) == 2
    assert all(a.split("=", 1)[1].startswith("127.0.0.1:") for a in addresses)
    assert f"--webhook-port={layout.ports['kserve-webhook']}" in argv


def test_kwoks_own_pod_stage_leaves_predictor_pods_to_mlkubes() -> None:
    by_name = {s["metadata"]["name"]: s for s in stages()}
    excluded = by_name["pod-ready"]["spec"]["selector"]["matchExpressions"]
    assert {"key": f'.metadata.labels["{ISVC_LABEL}"]', "operator": "DoesNotExist"} in excluded
    for name in ("mlkube-predictor-start", "mlkube-predictor-ready"):
        selector = by_name[name]["spec"]["selector"]["matchExpressions"]
        assert {"key": f'.metadata.labels["{ISVC_LABEL}"]', "operator": "Exists"} in selector
