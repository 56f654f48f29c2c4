"""`mlkube status` selects as `kubectl get` does, on the local cluster: one namespace by
default, every one with -A, by labels with -l, and a NAME across namespaces with -A.

The objects are InferenceServices (KServe's CRD is installed, no controller runs): the
API server stores them and mlkube reads them back; nothing schedules."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mlkube.cluster.client import Kube

from ..conftest import Run
from .conftest import Namespaces


def _endpoint(name: str, namespace: str, team: str) -> dict[str, object]:
    # serving.kserve.io/v1beta1 InferenceService, the smallest predictor KServe's CRD
    # schema accepts (kserve/kserve config/crd/full/serving.kserve.io_inferenceservices.yaml)
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": team}},
        "spec": {
            "predictor": {
                "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://m/iris"}
            }
        },
    }


def _names(out: str) -> list[tuple[str, str]]:
    return [(s["namespace"], s["name"]) for s in json.loads(out)["items"]]


def test_namespace_all_namespaces_and_selector(
    kube: Kube, namespaces: Namespaces, local_cluster: Path, mlkube: Run
) -> None:
    a, b = namespaces("status-sel-a"), namespaces("status-sel-b")
    for obj in (
        _endpoint("iris", a, "vision"),
        _endpoint("bert", a, "nlp"),
        _endpoint("iris", b, "vision"),
    ):
        kube.apply(obj)

    def status(*args: str) -> str:
        result = mlkube("status", *args, kubeconfig=local_cluster)
        assert result.code == 0, result.err
        return result.out

    assert _names(status("-n", a, "-o", "json")) == [(a, "bert"), (a, "iris")]
    everywhere = _names(status("-A", "-l", "team=vision", "-o", "json"))
    assert [n for n in everywhere if n[0] in (a, b)] == [(a, "iris"), (b, "iris")]
    assert _names(status("-n", b, "-l", "team!=vision", "-o", "json")) == []
    named = yaml.safe_load(status("iris", "-A", "-o", "yaml"))["items"]
    assert [(s["namespace"], s["phase"]) for s in named if s["namespace"] in (a, b)] == [
        (a, "NotReady"),
        (b, "NotReady"),
    ]
    # one NAME in one namespace is one object, as before
    one = json.loads(status("bert", "-n", a, "-o", "json"))
    assert (one["kind"], one["namespace"], one["name"]) == ("InferenceService", a, "bert")
    text = status("-n", a, "-l", "team=nlp").splitlines()
    assert text == [
        f"InferenceService {a}/bert: NotReady (no pods)"
        " — KServe has not reported a status (is its controller running?)"
    ]
    missing = mlkube("status", "nosuch", "-A", kubeconfig=local_cluster)
    assert missing.code == 2
    assert missing.err == (
        "mlkube: no TrainJob, PyTorchJob or InferenceService nosuch in any namespace\n"
    )


def test_apply_selector_applies_only_the_objects_it_selects(
    kube: Kube, namespaces: Namespaces, local_cluster: Path, mlkube: Run, tmp_path: Path
) -> None:
    ns = namespaces("apply-sel")
    manifests = tmp_path / "cms.yaml"
    manifests.write_text(
        "".join(
            f"---\napiVersion: v1\nkind: ConfigMap\n"
            f"metadata: {{name: {name}, namespace: {ns}, labels: {{team: {team}}}}}\n"
            f"data: {{k: v}}\n"
            for name, team in (("vision-a", "vision"), ("nlp-a", "nlp"), ("vision-b", "vision"))
        )
    )
    result = mlkube("apply", "-f", str(manifests), "-l", "team in (vision)",
                    kubeconfig=local_cluster)  # fmt: skip
    assert result.code == 0, result.err
    present = {c["metadata"]["name"] for c in kube.list("v1", "ConfigMap", ns)}
    assert {"vision-a", "vision-b"} <= present and "nlp-a" not in present
    bad = mlkube("apply", "-f", str(manifests), "-l", "team in vision", kubeconfig=local_cluster)
    assert bad.code == 2 and bad.err.startswith("mlkube: -l 'team in vision': not a label")
