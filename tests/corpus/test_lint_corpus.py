"""A repository tree as users have them, linted in one call (issue 17 §3).

``tree/`` mixes manifests shaped after upstream examples (Kueue's setup and sample
Job, the Kubernetes docs' ``pi`` Job, KServe's sklearn InferenceService, each citing
its source) with what such repositories also hold: a KServe request body
(``kserve/iris-input.json``, as in kserve/kserve docs/samples/v1beta1/sklearn/v1), a
docs site's ``mkdocs.yml``, a Helm chart, and a kustomize base with an overlay.

The expected findings and skips are worked out by hand from the files, not copied
from a run: see the comment on each.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mlkube.errors import UsageError
from mlkube.manifests import kustomize

from ..boundary.runner import run_cli

TREE = Path(__file__).parent / "tree"
OVERLAY = TREE / "kustomize" / "overlays" / "gpu"

_KUSTOMIZATION = "a kustomization: lint what it builds with --kustomize DIR"
_CHART = f"part of the Helm chart {TREE / 'chart'}: lint what it renders"
# Every file of the tree that is not a Kubernetes object, with why.
SKIPPED = {
    ("chart/Chart.yaml", _CHART),
    ("chart/templates/deployment.yaml", _CHART),
    ("chart/values.yaml", _CHART),
    ("docs/mkdocs.yml", "not a Kubernetes object: object has no apiVersion"),
    ("kserve/iris-input.json", "not a Kubernetes object: object has no apiVersion"),
    ("kustomize/base/kustomization.yaml", _KUSTOMIZATION),
    ("kustomize/overlays/gpu/kustomization.yaml", _KUSTOMIZATION),
    (
        "kustomize/overlays/gpu/gpus.yaml",
        f"a patch of the kustomization in {OVERLAY}: lint what it builds with --kustomize DIR",
    ),
}


def _lint(*args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli("lint", *args, "--format", "json", "--config", "/dev/null")
    assert result.err == "", result.err
    report: dict[str, Any] = json.loads(result.out)
    return result.code, report


def _found(report: dict[str, Any], root: Path = TREE) -> set[tuple[str, str, int]]:
    return {
        (f["name"], str(Path(f["file"]).relative_to(root)), f["line"]) for f in report["findings"]
    }


def _skipped(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (str(Path(s["file"]).relative_to(TREE)), s["reason"].split(" (helm template")[0])
        for s in report["skippedFiles"]
    }


def test_a_repository_tree_lints_in_one_call() -> None:
    code, report = _lint(str(TREE))
    # The InferenceService sets no minReplicas (KServe's default is 1): one finding,
    # at `predictor:` (line 7), where minReplicas belongs. The Kueue Job names a queue
    # defined in another file of its folder, the `pi` Job is no Kueue example, and the
    # base's Job names a queue no file defines: each is its own deployment unit, so
    # no queue rule judges one file by another.
    assert _found(report) == {("endpoint-single-replica", "kserve/sklearn.yaml", 7)}
    assert code == 1  # a warning fails by default
    assert _skipped(report) == SKIPPED
    # Objects: ResourceFlavor, ClusterQueue, LocalQueue, two Jobs in kueue/ and
    # website/, the InferenceService, the base's Job. Units: four files, and the
    # kustomize base (its directory holds a kustomization).
    assert (report["summary"]["objects"], report["summary"]["units"]) == (7, 5)
    assert report["summary"]["scope"] == "file"


def test_the_whole_tree_as_one_unit_lets_one_example_judge_another() -> None:
    """What linting a tree did before units: the LocalQueue `user-queue` of the Kueue
    example puts the unrelated `pi` Job (namespace default, no label) in a namespace
    "with queues", and the base's Job in namespace ml names a queue no LocalQueue of ml
    defines."""
    _, report = _lint(str(TREE), "--scope", "all")
    assert _found(report) == {
        ("endpoint-single-replica", "kserve/sklearn.yaml", 7),
        ("queue-label-missing", "website/job.yaml", 5),  # metadata: (labels belong there)
        ("queue-undefined", "kustomize/base/train.yaml", 7),  # labels:
    }
    assert report["summary"]["units"] == 1


@pytest.fixture
def kustomize_tool() -> None:
    """kustomize or kubectl: on PATH, or the kubectl mlkube builds (CI builds it)."""
    try:
        kustomize.command()
    except UsageError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("no kustomize or kubectl: run tools/build.sh kubectl (CI builds it)")


@pytest.mark.usefixtures("kustomize_tool")
def test_a_kustomize_overlay_is_built_and_traced_to_its_files() -> None:
    """kustomize prefixes the name and patches in a GPU request without a limit: the
    finding is about the built object (gpu-train), at the base's file, on the line of
    `requests:` (line 17), the nearest field of the patched path that the base holds."""
    code, report = _lint("--kustomize", str(OVERLAY))
    assert code == 1
    assert _found(report) == {("gpu-limit-missing", "kustomize/base/train.yaml", 17)}
    (finding,) = report["findings"]
    assert finding["object"] == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "namespace": "ml",
        "name": "gpu-train",
    }
    assert (
        finding["field"] == 'spec.template.spec.containers[0].resources.requests["nvidia.com/gpu"]'
    )
    assert report["skippedFiles"] == []


@pytest.mark.usefixtures("kustomize_tool")
def test_a_kustomization_that_does_not_build_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    result = run_cli("lint", "--kustomize", str(tmp_path), "--config", "/dev/null")
    assert result.code == 2 and result.out == ""
    (line,) = result.err_lines
    assert line.startswith(f"mlkube: {tmp_path}:0: kustomize build failed: ")
    assert "missing.yaml" in line


UPSTREAM = Path(__file__).parent / "upstream"


def test_portable_upstream_examples_are_not_told_to_choose_a_namespace() -> None:
    """`upstream/` holds GPU examples shaped after Kubeflow, KubeRay and LWS samples.
    None sets a namespace: they are applied with `-n`, as Helm and kustomize output
    is. gpu-workload-default-namespace fired on every GPU workload among them before
    it was limited to an explicit `namespace: default` (docs/decisions.md)."""
    _, report = _lint(str(UPSTREAM))
    assert report["summary"]["objects"] == 5 and report["summary"]["skippedFiles"] == 0
    assert not [f for f in report["findings"] if f["name"] == "gpu-workload-default-namespace"]
    # the priority-class advice stays, as info: it does not fail lint by default
    priority = [f for f in report["findings"] if f["name"] == "gpu-priority-class-missing"]
    assert priority and {f["severity"] for f in priority} == {"info"}
