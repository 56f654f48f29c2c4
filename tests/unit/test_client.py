"""The client's decisions that need no server: which requests may be repeated, what an
error status means and says, how long to back off, kubectl's durations."""

from __future__ import annotations

import argparse
import gc
import json
from typing import Any

import httpx
import pytest

from mlkube.cli.clientopts import duration
from mlkube.cluster import client
from mlkube.cluster.client import (
    ApiError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    RetryPolicy,
    ServerError,
    ServerTimeout,
    TooManyRequests,
    Unauthorized,
)
from mlkube.collector import CollectorPause, collector_paused
from mlkube.errors import EXIT_CLUSTER


def _status(code: int, reason: str, message: str, **details: Any) -> httpx.Response:
    """A ``metav1.Status`` body as the API server writes it
    (apimachinery/pkg/api/errors/errors.go)."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return httpx.Response(code, json=body)


APPLY = {"Content-Type": "application/apply-patch+yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.mark.parametrize(
    ("method", "headers", "body", "repeatable"),
    [
        ("GET", {}, None, True),
        ("DELETE", {}, None, True),
        ("PATCH", APPLY, None, True),  # server-side apply declares a state
        ("PATCH", MERGE, {"metadata": {"annotations": {"a": "b"}}}, True),
        ("PATCH", MERGE, {"metadata": {"resourceVersion": "7", "labels": {}}}, False),
        ("PUT", {}, {"metadata": {"name": "x", "resourceVersion": "12"}}, False),
        ("PUT", {}, {"metadata": {"name": "x"}}, True),
        ("POST", {}, {"metadata": {"name": "x"}}, False),  # a second create is a second one
    ],
)
def test_only_requests_that_can_be_repeated_are(
    method: str, headers: dict[str, str], body: Any, repeatable: bool
) -> None:
    assert client._idempotent(method, headers, body) is repeatable


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (401, "Unauthorized", Unauthorized),
        (403, "Forbidden", Forbidden),
        (404, "NotFound", NotFound),
        (409, "Conflict", Conflict),
        (409, "AlreadyExists", Conflict),
        (410, "Expired", Gone),
        (422, "Invalid", Invalid),
        (429, "TooManyRequests", TooManyRequests),
        (504, "Timeout", ServerTimeout),
        (500, "ServerTimeout", ServerTimeout),
        (500, "InternalError", ServerError),
        (400, "BadRequest", ApiError),
    ],
)
def test_errors_are_typed_by_meaning(code: int, reason: str, cls: type[ApiError]) -> None:
    error = client._error(_status(code, reason, "something"))
    assert type(error) is cls
    assert (error.status, error.reason, error.exit_code) == (code, reason, EXIT_CLUSTER)


def test_a_forbidden_list_names_the_verb_resource_and_the_rbac_that_grants_it() -> None:
    # The message of apiserver's forbiddenMessage (endpoints/handlers/responsewriters).
    message = (
        'pods is forbidden: User "system:serviceaccount:dev:ci" cannot list resource '
        '"pods" in API group "" in the namespace "ml-training"'
    )
    error = client._error(_status(403, "Forbidden", message, kind="pods"))
    assert isinstance(error, Forbidden)
    assert (error.verb, error.resource) == ("list", "pods")
    text = str(error)
    assert "system:serviceaccount:dev:ci needs 'list' on pods in namespace ml-training" in text
    assert "kubectl create role" in text and "-n ml-training" in text
    assert "--serviceaccount=dev:ci" in text


def test_a_cluster_scoped_refusal_suggests_a_cluster_role() -> None:
    message = (
        'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" '
        "at the cluster scope"
    )
    text = str(client._error(_status(403, "Forbidden", message)))
    assert "alice needs 'list' on nodes at cluster scope" in text
    assert "kubectl create clusterrole" in text and "--user=alice" in text


def test_a_refusal_in_an_api_group_names_the_qualified_resource() -> None:
    message = (
        'pytorchjobs.kubeflow.org is forbidden: User "bob" cannot watch resource '
        '"pytorchjobs" in API group "kubeflow.org" in the namespace "a"'
    )
    text = str(client._error(_status(403, "Forbidden", message)))
    assert "--verb=watch --resource=pytorchjobs.kubeflow.org" in text


def test_a_refusal_by_admission_is_not_taken_for_rbac() -> None:
    # The ServiceAccount admission plugin's refusal (plugin/pkg/admission/serviceaccount).
    message = (
        'pods "p-0" is forbidden: error looking up service account ml/default: '
        'serviceaccount "default" not found'
    )
    text = str(client._error(_status(403, "Forbidden", message)))
    assert text.endswith('serviceaccount "default" not found')
    assert "kubectl create" not in text


def test_unauthorised_suggests_logging_in_again() -> None:
    assert "log in again" in str(client._error(_status(401, "Unauthorized", "Unauthorized")))


def test_a_body_that_is_not_a_status_is_reported_as_text() -> None:
    error = client._error(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert type(error) is ServerError
    assert "Bad Gateway" in str(error)


def test_retry_after_is_read_as_seconds() -> None:
    assert client._retry_after(httpx.Response(429, headers={"Retry-After": "1"})) == 1.0
    assert client._retry_after(httpx.Response(429)) is None  # a PDB refusal has none
    assert client._retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None


def test_backoff_doubles_to_a_cap_with_jitter() -> None:
    policy = RetryPolicy(base=0.2, cap=1.0, jitter=1.0)
    for fault, nominal in ((1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (9, 1.0)):
        delays = [policy.backoff(fault) for _ in range(200)]
        assert all(nominal <= d <= 2 * nominal for d in delays)
        assert len(set(delays)) > 1  # jittered, so that clients do not retry in step


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("30", 30.0), ("2s", 2.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0)],
)
def test_request_timeouts_are_read_as_kubectl_reads_them(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "fast", "1x", "s", "1s2", "-1s"])
def test_bad_request_timeouts_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration"):
        duration(text)


def test_a_body_decodes_with_the_collector_paused_and_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The collector is off while a body decodes (it would walk every object decoded so
    far, again and again) and on again after; a JSON body is values, not text."""
    seen: list[bool] = []
    real = json.loads

    def spy(body: bytes | str) -> Any:
        seen.append(gc.isenabled())
        return real(body)

    assert gc.isenabled()
    monkeypatch.setattr(json, "loads", spy)
    assert client.decode(b'{"items": [{"a": 1}]}') == {"items": [{"a": 1}]}
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off() -> None:
    gc.disable()
    try:
        client.decode(b"[1]")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_threads_decoding_at_once_share_one_pause() -> None:
    """The last of overlapping decodes turns the collector back on, not the first."""
    pause = CollectorPause()
    with pause.held():
        with pause.held():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer decode is still running
    assert gc.isenabled()


def test_a_batch_pause_outlasts_the_decodes_inside_it() -> None:
    """doctor pauses the collector for its whole run; a decode inside must not turn it
    back on when it ends."""
    with collector_paused():
        client.decode(b"{}")
        assert not gc.isenabled()
    assert gc.isenabled()
