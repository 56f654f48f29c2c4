"""`mlkube doctor -l`: only the workloads whose labels match, as kubectl's -l, on a
snapshot recorded on the local cluster (two Jobs refused by a one-GPU quota: ``batch``
and ``huge``; each Job and its pods carry kube's ``job-name`` label)."""

from __future__ import annotations

import json
from pathlib import Path

from mlkube.doctor import diagnose, examined
from mlkube.manifests.labelselector import parse
from mlkube.snapshots.evidence import Evidence

from ..conftest import Run

SNAPSHOT = Path(__file__).parent / "quota-exceeded" / "batch-jobs.json"


def _jobs(selector: str) -> list[tuple[str, str, str]]:
    evidence = Evidence.load(str(SNAPSHOT))
    found = diagnose(evidence, labels=parse(selector))
    return [(f.rule, f.where.obj.kind, f.where.obj.name) for f in found]


def test_only_the_workloads_the_selector_matches() -> None:
    assert _jobs("job-name=huge") == [("DK204", "Job", "huge")]
    # the pods of batch match (the Job's own finding is kept through them), huge's not
    assert _jobs("job-name!=huge") == [("DK204", "Job", "batch")]
    assert _jobs("job-name in (batch,huge)") == [
        ("DK204", "Job", "batch"),
        ("DK204", "Job", "huge"),
    ]
    assert _jobs("team=nobody") == []


def test_the_objects_examined_are_those_of_the_selected_workload() -> None:
    evidence = Evidence.load(str(SNAPSHOT))
    # the same workload, asked for by its name: the same objects
    assert examined(evidence, labels=parse("job-name=huge")) == examined(evidence, "huge")
    assert examined(evidence, labels=parse("team=nobody")) == 0


def test_the_cli_takes_l_on_a_saved_snapshot(mlkube: Run) -> None:
    result = mlkube("doctor", "--from", str(SNAPSHOT), "-l", "job-name=huge", "-o", "json")
    assert result.code == 1, result.err  # a warning: the default --fail-on
    names = [f["object"]["name"] for f in json.loads(result.out)["findings"]]
    assert names == ["huge"]
    bad = mlkube("doctor", "--from", str(SNAPSHOT), "-l", "job-name in batch")
    assert bad.code == 2 and "not a label selector" in bad.err


def test_a_name_and_a_selector_keep_what_both_keep() -> None:
    evidence = Evidence.load(str(SNAPSHOT))
    assert diagnose(evidence, "huge", labels=parse("job-name=batch")) == []
    assert examined(evidence, "huge", parse("job-name=batch")) == 0
    assert examined(evidence, "huge", parse("job-name=huge")) == examined(evidence, "huge")
