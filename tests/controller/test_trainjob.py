"""A TrainJob's pods (TrainJob → JobSet → Job → Pod): the request is recorded on the
TrainJob, with its resourceVersion as the precondition, and its Event is the TrainJob's.
The JobSet's owner comes from the JobSets' metadata cache, or one GET, once."""

from __future__ import annotations

import json
from typing import Any

from mlkube.controller.informer import Informer, key_of
from mlkube.controller.jobs import (
    RECORD_ANNOTATION,
    JobRef,
    job_of,
    record_target,
)
from mlkube.controller.reconciler import Controller, Options
from mlkube.wellknown import JOBSET_API, TRAINER_API

from .fakes import FakeKube
from .snapshots import jobset, jobset_pod, node, spot_itn, trainjob

JOBSET = JobRef(JOBSET_API, "JobSet", "ml", "llama")
TRAINJOB = JobRef(TRAINER_API, "TrainJob", "ml", "llama")


def controller(kube: FakeKube, *, jobsets: list[dict[str, Any]],
               trainjobs: list[dict[str, Any]]) -> Controller:  # fmt: skip
    ctl = Controller(kube, Options(writers=0))  # type: ignore[arg-type]
    for api, kind, objs in ((JOBSET_API, "JobSet", jobsets),
                            (TRAINER_API, "TrainJob", trainjobs)):  # fmt: skip
        informer = Informer(kube, api, kind, lambda _e, _o: None, metadata_only=True)  # type: ignore[arg-type]
        informer.store = {key_of(o): {"metadata": o["metadata"]} for o in objs}
        ctl.jobs[(api, kind)] = informer
    for n in (spot_itn("spot-1"), node("spot-2")):
        ctl.nodes.store[n["metadata"]["name"]] = n
    for i, where in enumerate(("spot-1", "spot-2")):
        p = jobset_pod("llama", i, where)
        ctl.pods.store[key_of(p)] = p
        ctl._on_pod("ADDED", p)
    ctl._on_node("ADDED", ctl.nodes.store["spot-1"])
    return ctl


def test_a_trainjob_owned_jobset_records_on_the_trainjob() -> None:
    assert record_target(JOBSET, jobset()["metadata"]) == TRAINJOB


def test_a_bare_jobset_records_on_itself() -> None:
    assert record_target(JOBSET, jobset(owner=None)["metadata"]) == JOBSET
    assert record_target(JOBSET, None) == JOBSET
    # An owner that does not control it is not where the record goes.
    meta = jobset()["metadata"]
    meta["ownerReferences"][0]["controller"] = False
    assert record_target(JOBSET, meta) == JOBSET


def test_the_pod_of_a_trainjob_maps_to_its_jobset() -> None:
    assert job_of(jobset_pod("llama", 1, "spot-1")) == JOBSET


def test_request_recorded_on_the_trainjob_with_its_version_and_no_read() -> None:
    kube = FakeKube({})
    ctl = controller(kube, jobsets=[jobset()], trainjobs=[trainjob(version="700")])
    ctl.reconcile_job(JOBSET)  # the record, and the first pod
    ctl.reconcile_job(JOBSET)  # queued again once recorded: the other pod, the Event
    assert not [c for c in kube.calls if c[0] == "get"]  # both from the caches
    records = [(k, n, p) for k, n, p in kube.patches if k != "Pod"]
    assert [(k, n) for k, n, _ in records] == [("TrainJob", "llama")]
    meta = records[0][2]["metadata"]
    assert meta["resourceVersion"] == "700"
    [request] = json.loads(meta["annotations"][RECORD_ANNOTATION])
    assert request["nodes"] == ["spot-1"]
    assert {n for k, n, _ in kube.patches if k == "Pod"} == {
        "llama-node-0-0-x0z9q", "llama-node-0-1-x1z9q"
    }  # fmt: skip
    [event] = kube.events
    assert event["reason"] == "CheckpointRequested"
    assert event["involvedObject"]["kind"] == "TrainJob"
    assert event["involvedObject"]["name"] == "llama"
    assert event["involvedObject"]["uid"] == "uid-tj-llama"
    assert event["involvedObject"]["apiVersion"] == TRAINER_API


def test_an_unseen_jobset_is_read_once_then_remembered() -> None:
    kube = FakeKube({("JobSet", "llama"): jobset()})
    ctl = controller(kube, jobsets=[], trainjobs=[trainjob()])
    ctl.reconcile_job(JOBSET)
    ctl.reconcile_job(JOBSET)
    assert [c for c in kube.calls if c[0] == "get"] == [("get", "JobSet", "llama")]
    assert ctl.state.target_of(JOBSET) == TRAINJOB
    # Once the JobSet's last pod is gone, so is what was remembered about it.
    for key in list(ctl.pods.store):
        ctl._on_pod("DELETED", ctl.pods.store[key])
    assert ctl.state.target_of(JOBSET) is None and ctl.state.sizes()["targets"] == 0


def test_a_conflict_on_the_trainjob_rereads_the_trainjob_and_writes_once() -> None:
    kube = FakeKube({("TrainJob", "llama"): trainjob(version="701")})
    kube.conflicts = 1
    ctl = controller(kube, jobsets=[jobset()], trainjobs=[trainjob(version="700")])
    ctl.reconcile_job(JOBSET)  # 409 on the cached version: queued again, urgent
    assert ctl.state.stale(JOBSET) and ctl.queue.urgent_pending()
    ctl.reconcile_job(JOBSET)  # planned from a fresh read
    assert [c for c in kube.calls if c[0] == "get"] == [("get", "TrainJob", "llama")]
    [(_, _, written)] = [(k, n, p) for k, n, p in kube.patches if k == "TrainJob"]
    assert written["metadata"]["resourceVersion"] == "701"
    assert ctl.metrics.conflicts._value.get() == 1


def test_a_bare_jobset_still_records_on_the_jobset() -> None:
    kube = FakeKube({})
    ctl = controller(kube, jobsets=[jobset(owner=None)], trainjobs=[])
    ctl.reconcile_job(JOBSET)
    assert [(k, n) for k, n, _ in kube.patches if k != "Pod"] == [("JobSet", "llama")]
