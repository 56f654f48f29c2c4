"""Lint looks inside every workload kind of tests/kinds/: each kind's ``fires.yaml`` gives
exactly the findings its ``# expect: <rule-name>`` marks name, on those lines, and its
``passes.yaml`` none. Each is linted with platform.yaml (a namespace with a GPU quota and
a priority class), so that the findings are about the kind, not about the namespace.

The fixtures are shaped after upstream manifests (each names the file it imitates) and
are validated against the released CRD of their kind (crds.LINT_RELEASES)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlkube.crds import LINT_RELEASES, load_crds
from mlkube.lint import lint_paths
from mlkube.manifests.objects import manifests
from mlkube.manifests.workloads import (
    WORKLOAD_KINDS,
    is_batch,
    is_serving_kind,
    looks_inside,
    pod_templates,
)
from mlkube.manifests.yamlstream import read_paths, read_text
from mlkube.rules.docs import APPLIES, applies

from .conftest import Run

KINDS = Path(__file__).parent / "kinds"
PLATFORM = KINDS / "platform.yaml"
FIXTURES = sorted(p.name for p in KINDS.iterdir() if p.is_dir())
# The kinds issue 17 asked lint to look inside, each with a fixture directory here.
NEW_KINDS = {
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"),
    ("ray.io", "RayService"),
    ("ray.io", "RayCronJob"),
    ("batch.volcano.sh", "Job"),
    ("flow.volcano.sh", "JobTemplate"),
    ("workload.codeflare.dev", "AppWrapper"),
    ("serving.kserve.io", "ServingRuntime"),
    ("serving.kserve.io", "ClusterServingRuntime"),
    ("serving.kserve.io", "LLMInferenceService"),
    ("disaggregatedset.x-k8s.io", "DisaggregatedSet"),  # new in lws v0.9.0
}


def _marks(path: Path) -> set[tuple[str, int, str]]:
    """(file, line, rule name) of each ``# expect: a, b`` mark."""
    out = set()
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if "# expect:" in line:
            for name in line.rsplit("# expect:", 1)[1].split(","):
                out.add((str(path), n, name.strip()))
    return out


def _found(paths: Iterable[Path]) -> set[tuple[str, int, str]]:
    """Findings of the fixtures linted with the shared Platform as one deployment unit."""
    report = lint_paths([str(p) for p in paths], scope="all")
    return {(f.where.source, f.where.line, f.name) for f in report.findings}


@pytest.mark.parametrize("kind", FIXTURES)
def test_fires_exactly_where_marked(kind: str) -> None:
    path = KINDS / kind / "fires.yaml"
    marks = _marks(path)
    assert marks, f"{path} marks no finding"
    assert _found([PLATFORM, path]) == marks


@pytest.mark.parametrize("kind", FIXTURES)
def test_passes_clean(kind: str) -> None:
    assert _found([PLATFORM, KINDS / kind / "passes.yaml"]) == set()


def test_the_corpus_in_one_call() -> None:
    """All kinds linted together give the union of their marks: no finding depends on
    a kind being alone (the objects have distinct names, one namespace)."""
    files = [KINDS / k / f for k in FIXTURES for f in ("fires.yaml", "passes.yaml")]
    expected = set().union(*(_marks(p) for p in files))
    assert _found([PLATFORM, *files]) == expected


def test_every_new_kind_has_fixtures_and_pods() -> None:
    seen = set()
    for kind in FIXTURES:
        for name in ("fires.yaml", "passes.yaml"):
            for m in manifests(read_paths([str(KINDS / kind / name)])):
                key = (m.ref.group, m.ref.kind)
                if key in NEW_KINDS:
                    assert looks_inside(m) and pod_templates(m), (kind, name, key)
                    seen.add(key)
    assert seen == NEW_KINDS
    assert {(k.group, k.kind) for k in WORKLOAD_KINDS} >= NEW_KINDS


_VOLCANO = ("batch.volcano.sh/", "flow.volcano.sh/")


@cache
def _schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → openAPIV3Schema of each served version of the released CRDs."""
    out = {}
    for crd in load_crds(LINT_RELEASES):
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served"):
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                out[key] = copy.deepcopy(version["schema"]["openAPIV3Schema"])
    return out


def _fixture_objects() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for kind in FIXTURES:
        for name in ("fires.yaml", "passes.yaml"):
            with (KINDS / kind / name).open() as f:
                out += [(f"{kind}/{name}", d) for d in yaml.safe_load_all(f) if d]
    return out


# Volcano's CRDs are not on the Go module proxy: its kinds follow volcano.sh/apis' Go
# types, and are left out here rather than skipped.
@pytest.mark.parametrize(
    ("where", "obj"),
    [(w, o) for w, o in _fixture_objects() if not o["apiVersion"].startswith(_VOLCANO)],
    ids=lambda v: str(v)[:40],
)
def test_fixture_fits_the_released_crd(where: str, obj: dict[str, Any]) -> None:
    """The fields the extractors read are where the released CRDs put them."""
    schema = _schemas().get((obj["apiVersion"], obj["kind"]))
    assert schema is not None, f"{where}: no released CRD for {obj['apiVersion']} {obj['kind']}"
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


# Where the pods are, counted by hand from the fixtures and the upstream semantics.
TEMPLATES = {
    "leaderworkerset": [("leader", 2), ("worker", 2)],  # 2 groups of size 2
    # prefill: 2 groups of 1 (workers only: the leader runs the worker template); decode: 2 of 2
    "disaggregatedset": [("prefill worker", 2), ("decode worker", 4)],
    "rayservice": [("head", 1), ("gpu-group", 1)],
    "raycronjob": [("head", 1), ("gpu-group", 2)],
    "volcano-job": [("master", 1), ("worker", 3)],
    "volcano-jobtemplate": [("preprocess", 1)],
    "appwrapper": [("Job", 1)],  # the Job's template, found as for a Job
    "servingruntime": [("", 1), ("worker", 1)],
    "clusterservingruntime": [("", 1), ("worker", 1)],
    # 1 replica of data 16 / dataLocal 8 = LWS size 2: 1 leader and 1 worker; and prefill
    "llminferenceservice": [("", 1), ("worker", 1), ("prefill", 1)],
}


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_roles_and_replicas(kind: str) -> None:
    first = next(manifests(read_paths([str(KINDS / kind / "passes.yaml")])))
    if kind == "llminferenceservice":
        first = next(manifests(read_paths([str(KINDS / kind / "fires.yaml")])))
    assert [(t.role, t.replicas) for t in pod_templates(first)] == TEMPLATES[kind]


def test_appwrapper_pod_sets_are_paths_into_the_component() -> None:
    docs = list(manifests(read_paths([str(KINDS / "appwrapper" / "fires.yaml")])))
    templates = pod_templates(docs[1])
    assert [(t.role, t.replicas) for t in templates] == [("PyTorchJob", 1), ("PyTorchJob[1]", 2)]
    worker = templates[1]
    assert worker.path == (
        "spec", "components", 0, "template", "spec", "pytorchReplicaSpecs", "Worker",
        "template", "spec",
    )  # fmt: skip
    assert worker.containers[0].path == (*worker.path, "containers", 0)


def test_a_leaderworkerset_without_leader_template_runs_the_worker_template_for_all() -> None:
    text = """\
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: w, namespace: ml}
spec:
  replicas: 3
  leaderWorkerTemplate:
    size: 4
    workerTemplate:
      spec:
        containers: [{name: c, image: 'i:1'}]
"""
    (m,) = manifests(read_text(text, "lws.yaml"))
    assert [(t.role, t.replicas) for t in pod_templates(m)] == [("worker", 12)]


WIDGETS = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: a, namespace: ml}
---
apiVersion: example.com/v1alpha1
kind: Widget
metadata: {name: b, namespace: ml}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: c, namespace: ml}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: d, namespace: ml}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: e, namespace: ml}
---
apiVersion: kueue.x-k8s.io/v1beta1
kind: LocalQueue
metadata: {name: f, namespace: ml}
spec: {clusterQueue: q}
---
apiVersion: kueue.x-k8s.io/v1beta1
kind: ClusterQueue
metadata: {name: q}
"""


def test_json_lists_the_skipped_kinds_and_their_objects(mlkube: Run) -> None:
    # Widget twice (two versions, one group), Certificate once; built-in kinds and the
    # kinds rules read (LocalQueue, ClusterQueue) are not skipped.
    result = mlkube("lint", "-", "--format", "json", stdin=WIDGETS.encode())
    payload = json.loads(result.out)
    assert payload["skippedKinds"] == [
        {"group": "cert-manager.io", "kind": "Certificate", "objects": 1},
        {"group": "example.com", "kind": "Widget", "objects": 2},
    ]
    assert payload["summary"]["objects"] == 7


def test_text_says_what_was_skipped_in_one_line(mlkube: Run) -> None:
    result = mlkube("lint", "-", "--color", "never", stdin=WIDGETS.encode())
    lines = result.out.splitlines()
    assert lines[-1] == (
        "Skipped 3 objects of kinds mlkube does not look inside: "
        "Certificate.cert-manager.io (1), Widget.example.com (2)."
    )


def test_nothing_skipped_says_nothing(mlkube: Run) -> None:
    result = mlkube("lint", "-", "--format", "json", stdin=PLATFORM.read_bytes())
    assert json.loads(result.out)["skippedKinds"] == []
    assert "Skipped" not in mlkube("lint", "-", stdin=PLATFORM.read_bytes()).out


def test_the_documented_kind_table_covers_every_fixture_finding() -> None:
    """docs/rules.md says which rules apply to each kind (rules.docs.APPLIES): every
    finding on a workload kind, in every rule and kind fixture, is one the table lists."""
    kinds = {k.key: k for k in WORKLOAD_KINDS}
    paths = sorted(str(p) for p in (KINDS.parent / "rules").glob("*/*.yaml"))
    paths += sorted(str(p) for p in KINDS.glob("*/*.yaml"))
    outside = set()
    for path in paths:
        for f in lint_paths([path]).findings:
            kind = kinds.get((f.where.obj.group, f.where.obj.kind))
            if kind is not None and f.name in APPLIES and not applies(f.name, kind):
                outside.add((f.name, kind.kind, path))
    assert not outside


def test_volcano_task_without_replicas_runs_no_pods() -> None:
    """TaskSpec.replicas is an int32 with no default (volcano.sh/apis batch/v1alpha1)."""
    text = """\
apiVersion: batch.volcano.sh/v1alpha1
kind: Job
metadata: {name: j, namespace: ml}
spec:
  tasks:
    - name: idle
      template: {spec: {containers: [{name: c, image: 'i:1'}]}}
"""
    (m,) = manifests(read_text(text, "vcjob.yaml"))
    assert [(t.role, t.replicas) for t in pod_templates(m)] == [("idle", 0)]


def test_llm_workers_follow_pipeline_parallelism() -> None:
    """Without data parallelism the LeaderWorkerSet size is the pipeline degree
    (ParallelismSpec.GetSize, KServe v0.20): 2 replicas × (3 - 1) workers."""
    text = """\
apiVersion: serving.kserve.io/v1alpha2
kind: LLMInferenceService
metadata: {name: l, namespace: ml}
spec:
  model: {uri: 'hf://m/m'}
  replicas: 2
  parallelism: {pipeline: 3, tensor: 8}
  template: {containers: [{name: main}]}
  worker: {containers: [{name: main}]}
"""
    (m,) = manifests(read_text(text, "llmisvc.yaml"))
    assert [(t.role, t.replicas) for t in pod_templates(m)] == [("", 2), ("worker", 4)]


# Kueue v0.19.2's integrations (pkg/controller/jobs: batch/job, jobset, kubeflow's
# pytorch/tf/xgboost/paddle/jax jobs, mpijob, trainjob, rayjob, raycluster, rayservice,
# leaderworkerset, deployment, statefulset, pod, appwrapper; and sparkapplication, a kind
# lint does not look inside), by hand.
KUEUE = {
    ("batch", "Job"), ("jobset.x-k8s.io", "JobSet"), ("kubeflow.org", "PyTorchJob"),
    ("kubeflow.org", "TFJob"), ("kubeflow.org", "XGBoostJob"), ("kubeflow.org", "PaddleJob"),
    ("kubeflow.org", "JAXJob"), ("kubeflow.org", "MPIJob"), ("trainer.kubeflow.org", "TrainJob"),
    ("ray.io", "RayJob"), ("ray.io", "RayCluster"), ("ray.io", "RayService"),
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"), ("apps", "Deployment"),
    ("apps", "StatefulSet"), ("", "Pod"), ("workload.codeflare.dev", "AppWrapper"),
}  # fmt: skip
# Of those, the ones that run to completion.
BATCH = KUEUE - {
    ("ray.io", "RayCluster"), ("ray.io", "RayService"), ("apps", "Deployment"),
    ("apps", "StatefulSet"), ("", "Pod"), ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"),
}  # fmt: skip


def test_batch_and_kueue_kinds_follow_kueues_integrations() -> None:
    assert {k.key for k in WORKLOAD_KINDS if k.kueue} == KUEUE
    assert {k.key for k in WORKLOAD_KINDS if k.batch} == BATCH


@pytest.mark.parametrize(
    ("kind", "serving", "batch"),
    [("leaderworkerset", True, False), ("llminferenceservice", True, False),
     ("rayservice", True, False), ("volcano-job", False, False), ("appwrapper", False, True)],
)  # fmt: skip
def test_serving_and_batch_of_a_manifest(kind: str, serving: bool, batch: bool) -> None:
    m = next(manifests(read_paths([str(KINDS / kind / "passes.yaml")])))
    assert (is_serving_kind(m), is_batch(m)) == (serving, batch)
