"""Each preflight check passes on a ready cluster's facts and fails on one broken fact."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlkube.manifests.yamlstream import read_paths
from mlkube.preflight import judge, outcomes
from mlkube.render.serving import adapter_rules
from mlkube.rules.preflight import RULES, Subject
from mlkube.snapshots.facts import GPU_METRIC, Facts
from mlkube.spec import Platform, load_specs
from mlkube.spec.models import Training

from ..conftest import EXAMPLES


def _node(name: str, gpus: str = "8") -> dict[str, object]:
    labels = {"mlkube.dev/pool": "a100", "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
              "feature.node.kubernetes.io/pci-10de.present": "true"}  # fmt: skip
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]},
        "status": {"allocatable": {"nvidia.com/gpu": gpus}},
    }


def ready() -> Facts:
    running = {"metadata": {"name": "nvidia-device-plugin-x"}, "status": {"phase": "Running"}}
    return Facts(
        context="test",
        namespace="ml",
        version={"gitVersion": "v1.34.2"},
        nodes=[_node("a100-0"), _node("a100-1")],
        gpu_operator_pods=[running],
        crds={
            "trainjobs.trainer.kubeflow.org": ["v1alpha1"],
            "clustertrainingruntimes.trainer.kubeflow.org": ["v1alpha1"],
            "jobsets.jobset.x-k8s.io": ["v1alpha2"],
            "inferenceservices.serving.kserve.io": ["v1beta1"],
            "clusterqueues.kueue.x-k8s.io": ["v1beta1", "v1beta2"],
            "localqueues.kueue.x-k8s.io": ["v1beta1", "v1beta2"],
            "resourceflavors.kueue.x-k8s.io": ["v1beta1", "v1beta2"],
            "certificates.cert-manager.io": ["v1"],
        },
        storage_classes=[
            {
                "metadata": {
                    "name": "fast",
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                }
            }
        ],
        access={"create pods/exec": True, "get pods/log": True},
        **gpu_metric_served(),
    )


GPU_METRIC_FACTS = Path(__file__).parent / "preflight" / "gpu-metric-served.json"


def gpu_metric_served() -> dict[str, Any]:
    """PF109's facts where the metric is served (the fixture says whence each shape),
    with the adapter configured by the rule mlkube renders."""
    facts = {k: v for k, v in json.loads(GPU_METRIC_FACTS.read_text()).items() if k != "comment"}
    rendered = adapter_rules([GPU_METRIC])
    source = f"ConfigMap {rendered['metadata']['namespace']}/{rendered['metadata']['name']}"
    return {**facts, "adapter_config": {"source": source, "data": rendered["data"]}}


def _platform() -> Platform:
    (spec,) = load_specs(read_paths([str(EXAMPLES / "platform.yaml")]))
    assert isinstance(spec.spec, Platform)
    pools = spec.spec.spec.pools[:1]  # the a100 pool: 2 nodes x 8 GPUs
    return spec.spec.model_copy(update={"spec": spec.spec.spec.model_copy(update={"pools": pools})})


def _set(attr: str, value: object) -> Callable[[Facts], None]:
    return lambda f: setattr(f, attr, value)


BREAK: dict[str, Callable[[Facts], object]] = {
    "PF101": _set("version", {"gitVersion": "v1.27.3"}),
    "PF102": lambda f: [n["metadata"].__setitem__("labels", {}) for n in f.nodes],
    "PF103": lambda f: f.nodes[0]["status"].__setitem__("allocatable", {}),
    "PF104": lambda f: f.gpu_operator_pods[0]["status"].__setitem__("phase", "Pending"),
    "PF105": lambda f: f.crds.__delitem__("certificates.cert-manager.io"),
    "PF106": _set("storage_classes", []),
    "PF107": lambda f: f.crds.__setitem__("clusterqueues.kueue.x-k8s.io", ["v1beta1"]),
    "PF108": lambda f: f.access.__setitem__("create priorityclasses", False),
    "PF109": lambda f: (
        _set("custom_metrics", None)(f),
        _set("custom_metrics_apiservice", None)(f),
    ),
    "PF201": lambda f: f.nodes.pop(),
}


def test_a_ready_cluster_passes_every_check() -> None:
    subject = Subject(ready(), _platform())
    assert judge(subject) == []
    assert set(outcomes(subject, [])) == {r.id for r in RULES}


@pytest.mark.parametrize("rule", sorted(BREAK))
def test_each_check_fails_on_its_broken_fact(rule: str) -> None:
    facts = copy.deepcopy(ready())
    BREAK[rule](facts)
    subject = Subject(facts, _platform())
    findings = judge(subject)
    # a node without GPU labels or capacity is also no longer the pool the Platform says
    assert rule in {f.rule for f in findings} <= {rule, "PF201"}
    assert outcomes(subject, findings)[rule] in ("fail", "warn")


def test_every_check_has_a_breaking_case() -> None:
    assert set(BREAK) == {r.id for r in RULES}


def test_the_training_crds_checked_follow_the_platforms_operator() -> None:
    # Trainer v2 installed, the Training Operator not: right for the default operator,
    # wrong for a Platform that renders PyTorchJobs.
    facts = ready()
    assert "pytorchjobs.kubeflow.org" not in facts.crds
    assert [f.rule for f in judge(Subject(facts, _platform())) if f.rule == "PF107"] == []
    platform = _platform()
    legacy = platform.model_copy(
        update={
            "spec": platform.spec.model_copy(
                update={"training": Training(operator="training-operator")}
            )
        }
    )
    (finding,) = [f for f in judge(Subject(facts, legacy)) if f.rule == "PF107"]
    assert "PyTorchJob" in finding.message and "not installed" in finding.message
    # and without a Platform: the default, Trainer v2, whose JobSet CRD is needed too
    del facts.crds["jobsets.jobset.x-k8s.io"]
    (finding,) = [f for f in judge(Subject(facts)) if f.rule == "PF107"]
    assert "JobSet" in finding.message
