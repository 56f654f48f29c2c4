"""The client under load and faults, on the real API server: API Priority and Fairness
rejections (real 429s with Retry-After), lists of 10,000 objects in pages, a continue
token expired by a real etcd compaction, refusals by RBAC and authentication."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mlkube.cluster.apply import apply_objects
from mlkube.cluster.client import ApiError, Gone, Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.errors import EXIT_CLUSTER
from mlkube.localcluster import cluster, components
from mlkube.snapshots.evidence import Evidence

from ..conftest import Run
from .conftest import NAME
from .waiting import until

NAMESPACE = "client-load"
PODS = 5000
CONFIGMAPS = 10_000


def _namespace(kube: Kube, name: str) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def _create_all(kube: Kube, objects: list[dict[str, Any]]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(kube.create, objects))


def _account_kubeconfig(
    kube: Kube,
    admin: Path,
    out: Path,
    name: str,
    rules: list[dict[str, Any]],
    *,
    cluster_wide: bool,
) -> Path:
    """A ServiceAccount allowed ``rules`` (cluster-wide, or in NAMESPACE only), and a
    kubeconfig that authenticates as it with a bound token (TokenRequest)."""
    role_kind = "ClusterRole" if cluster_wide else "Role"
    meta = {"name": f"client-load-{name}"}
    if not cluster_wide:
        meta["namespace"] = NAMESPACE
    rbac = "rbac.authorization.k8s.io/v1"
    subject = {"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}
    apply_objects(
        kube,
        [
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": name, "namespace": NAMESPACE}},
            {"apiVersion": rbac, "kind": role_kind, "metadata": meta, "rules": rules},
            {"apiVersion": rbac, "kind": f"{role_kind}Binding", "metadata": meta,
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                         "name": meta["name"]},
             "subjects": [subject]},
        ],
    )  # fmt: skip
    token = kube.request(
        "POST",
        f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{name}/token",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
              "spec": {"expirationSeconds": 3600}},
    )["status"]["token"]  # fmt: skip
    return _token_kubeconfig(admin, out, token)


def _token_kubeconfig(admin: Path, out: Path, token: str) -> Path:
    config = yaml.safe_load(admin.read_text())
    config["users"] = [{"name": "account", "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = "account"
    config["contexts"][0]["context"]["namespace"] = NAMESPACE
    out.write_text(yaml.safe_dump(config))
    return out


READ_ALL = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]


def _metric(kube: Kube, name: str, **labels: str) -> float:
    """One sample of the API server's own /metrics (summed over other labels; 0 when
    the series does not exist yet)."""
    text = kube.send("GET", "/metrics").text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        sample = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(sample.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(scope="module")
def configmaps(local_cluster: Path) -> Iterator[str]:
    """A namespace of 10,000 small ConfigMaps (plus the controller's kube-root-ca.crt)."""
    namespace = f"{NAMESPACE}-cm"
    with Kube(load_connection(str(local_cluster))) as kube:
        _namespace(kube, namespace)
        _create_all(
            kube,
            [
                {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": f"cm-{i:05d}", "namespace": namespace},
                 "data": {"i": str(i)}}
                for i in range(CONFIGMAPS)
            ],
        )  # fmt: skip
    yield namespace


def _names(items: list[dict[str, Any]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in items)


def test_doctor_under_apf_rejections_still_returns_every_pod(
    kube: Kube, local_cluster: Path, tmp_path: Path, mlkube: Run
) -> None:
    _namespace(kube, NAMESPACE)
    account = "throttled-doctor"
    kubeconfig = _account_kubeconfig(
        kube, local_cluster, tmp_path / "kc", account, READ_ALL, cluster_wide=True
    )
    # What `mlkube cluster up --throttle client-load/throttled-doctor` applies.
    apply_objects(kube, components.throttling([f"{NAMESPACE}/{account}"]))
    level = components.THROTTLE_LEVEL
    until(  # the server's own gauge: the level really has a single seat
        "the throttled level to take effect",
        lambda: (
            _metric(kube, "apiserver_flowcontrol_nominal_limit_seats", priority_level=level) == 1
        ),
    )
    # Pods held by a scheduling gate: Pending, never scheduled, cheap to keep. Admission
    # wants the namespace's default ServiceAccount, which the controller-manager makes.
    until("the default ServiceAccount",
               lambda: kube.get("v1", "ServiceAccount", "default", NAMESPACE))  # fmt: skip
    _create_all(
        kube,
        [
            {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": f"p-{i:04d}", "namespace": NAMESPACE, "labels": {"app": "x"}},
             "spec": {"schedulingGates": [{"name": "mlkube.dev/hold"}],
                      "containers": [{"name": "c", "image": "trainer:1.0"}]}}
            for i in range(PODS)
        ],
    )  # fmt: skip
    rejected_before = _metric(kube, "apiserver_flowcontrol_rejected_requests_total",
                              priority_level=level)  # fmt: skip
    saved = tmp_path / "evidence.json"
    result = mlkube("doctor", "-v", "4", "--save", str(saved), "-o", "json", kubeconfig=kubeconfig)
    assert result.code in (0, 1), result.err  # findings or none, but an answer
    retries = [line for line in result.err.splitlines() if line.startswith("mlkube: retry ")]
    assert retries, result.err
    assert all("429 Retry-After" in line and "API Priority and Fairness" in line
               for line in retries)  # fmt: skip
    assert f"{len(retries)} retries (429: {len(retries)})" in result.err
    rejected = _metric(kube, "apiserver_flowcontrol_rejected_requests_total",
                       priority_level=level) - rejected_before  # fmt: skip
    assert rejected >= len(retries)  # the server counts each rejection it sent
    evidence = Evidence.load(str(saved))
    pods = _names(evidence.of("v1", "Pod"))
    assert pods == _names(kube.list("v1", "Pod", NAMESPACE))
    assert len(pods) == PODS
    assert not evidence.unreadable
    assert json.loads(result.out)["summary"]["objects"] >= PODS


def test_a_10000_object_namespace_in_pages_of_500_is_the_same_as_one_list(
    kube: Kube, configmaps: str
) -> None:
    whole = kube.list("v1", "ConfigMap", configmaps, limit=0)
    assert len(whole) == CONFIGMAPS + 1  # with kube-root-ca.crt
    lists_before = _metric(kube, "apiserver_request_total", verb="LIST", resource="configmaps",
                           scope="namespace")  # fmt: skip
    pages: list[list[dict[str, Any]]] = []
    paged = kube.list("v1", "ConfigMap", configmaps, on_page=pages.append)
    lists = _metric(kube, "apiserver_request_total", verb="LIST", resource="configmaps",
                    scope="namespace") - lists_before  # fmt: skip
    assert _names(paged) == _names(whole)
    assert len(pages) == math.ceil(len(whole) / 500)
    assert all(len(p) == 500 for p in pages[:-1])
    assert lists == len(pages)  # the server answered that many list requests


def test_a_watch_cache_list_gives_the_same_answer_however_the_cache_pages_it(
    kube: Kube, configmaps: str
) -> None:
    """resourceVersion=0 is served from the watch cache, which may ignore limit (it did
    before Kubernetes 1.34's cache snapshots) or page: either way, the same objects."""
    pages: list[list[dict[str, Any]]] = []
    cached = kube.list("v1", "ConfigMap", configmaps, cached=True, on_page=pages.append)
    assert _names(cached) == _names(kube.list("v1", "ConfigMap", configmaps, limit=0))
    print(f"watch-cache list of {len(cached)} ConfigMaps with limit=500: {len(pages)} pages")


def _etcd(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """etcd's own JSON gateway (the v3 gRPC API over HTTP) on the cluster's client URL."""
    state = cluster.running(NAME)
    assert state is not None
    response = httpx.post(f"http://127.0.0.1:{state.ports['etcd']}{path}", json=body, timeout=30)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _compact_etcd(kube: Kube, namespace: str) -> None:
    """Write once more (a new revision), then compact etcd up to it: every continue
    token issued before now refers to a revision etcd no longer has."""
    bump = kube.create({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"generateName": "bump-", "namespace": namespace}})  # fmt: skip
    key = base64.b64encode(b"/registry/").decode()
    revision = _etcd("/v3/kv/range", {"key": key, "limit": 1})["header"]["revision"]
    _etcd("/v3/kv/compaction", {"revision": revision, "physical": True})
    # Its revision is all it was for: the namespace holds what the other tests count.
    kube.delete("v1", "ConfigMap", bump["metadata"]["name"], namespace)


@pytest.fixture(scope="module")
def events(local_cluster: Path) -> Iterator[str]:
    """1,200 Events. The API server keeps no watch cache of Events (DefaultWatchCacheSizes
    in kube-apiserver's options), so their lists page from etcd and their continue
    tokens expire when etcd compacts; a ConfigMap's is served from the cache's snapshot
    (Kubernetes 1.34+) until the cache's history moves past it."""
    namespace = f"{NAMESPACE}-ev"
    with Kube(load_connection(str(local_cluster))) as kube:
        _namespace(kube, namespace)
        _create_all(
            kube,
            [
                {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"name": f"ev-{i:05d}", "namespace": namespace},
                 "involvedObject": {"kind": "Pod", "name": "p", "namespace": namespace},
                 "reason": "Test", "message": "m", "type": "Normal"}
                for i in range(1200)
            ],
        )  # fmt: skip
    yield namespace


def test_an_expired_continue_token_is_a_410_and_the_list_starts_over_in_full(
    kube: Kube, events: str
) -> None:
    path = kube.resource("v1", "Event").path(events)
    first = kube.request("GET", path, params={"limit": "500"})
    token = first["metadata"]["continue"]
    _compact_etcd(kube, events)
    with pytest.raises(Gone) as info:  # what the real API server says to a stale token
        kube.request("GET", path, params={"limit": "500", "continue": token})
    assert info.value.reason == "Expired"

    relists = kube.stats["relists"]
    pages: list[list[dict[str, Any]]] = []

    def compact_after_the_first_page(page: list[dict[str, Any]]) -> None:
        pages.append(page)
        if len(pages) == 1:
            _compact_etcd(kube, events)

    items = kube.list("v1", "Event", events, on_page=compact_after_the_first_page)
    assert kube.stats["relists"] == relists + 1
    assert len(pages) == 1  # the second page was refused, the rest came in one list
    assert len(items) == 1200
    assert _names(items) == _names(kube.list("v1", "Event", events, limit=0))


def test_a_stale_continue_token_is_a_410_even_where_the_watch_cache_pages(
    kube: Kube, configmaps: str
) -> None:
    """A token older than the cache's snapshots is served by etcd, which compacted it."""
    path = kube.resource("v1", "ConfigMap").path(configmaps)
    first = kube.request("GET", path, params={"limit": "500"})
    padded = first["metadata"]["continue"] + "=" * (-len(first["metadata"]["continue"]) % 4)
    token = json.loads(base64.urlsafe_b64decode(padded))
    assert set(token) == {"v", "rv", "start"}  # apiserver/pkg/storage/continue.go
    _compact_etcd(kube, configmaps)
    stale = {**token, "rv": 2}
    encoded = base64.urlsafe_b64encode(json.dumps(stale).encode()).decode().rstrip("=")
    with pytest.raises(Gone, match="too old to display a consistent list"):
        kube.request("GET", path, params={"limit": "500", "continue": encoded})


def test_doctor_that_may_not_list_nodes_exits_4_naming_verb_and_resource(
    kube: Kube, local_cluster: Path, tmp_path: Path, mlkube: Run
) -> None:
    _namespace(kube, NAMESPACE)
    pods_only = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    kubeconfig = _account_kubeconfig(
        kube, local_cluster, tmp_path / "kc", "pods-only", pods_only, cluster_wide=False
    )
    result = mlkube("doctor", kubeconfig=kubeconfig)
    assert result.code == EXIT_CLUSTER
    assert result.out == ""
    (line,) = result.err.strip().splitlines()
    assert "could not read v1/Node" in line
    assert 'cannot list resource "nodes"' in line
    assert "needs 'list' on nodes at cluster scope" in line
    assert "kubectl create clusterrole" in line


def test_doctor_says_which_optional_kinds_it_could_not_read(
    kube: Kube, local_cluster: Path, tmp_path: Path, mlkube: Run
) -> None:
    _namespace(kube, NAMESPACE)
    no_events = [
        {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["list"]},
    ]
    kubeconfig = _account_kubeconfig(
        kube, local_cluster, tmp_path / "kc", "no-events", no_events, cluster_wide=True
    )
    result = mlkube("doctor", "-o", "json", kubeconfig=kubeconfig)
    assert result.code in (0, 1), result.err
    unread = [line for line in result.err.splitlines() if "could not read" in line]
    assert any("v1/Event" in line and "cannot list resource \"events\"" in line
               for line in unread)  # fmt: skip
    assert not any("v1/Pod:" in line or "v1/Node:" in line for line in unread)


def test_a_rejected_token_is_exit_4_suggesting_to_log_in_again(
    local_cluster: Path, tmp_path: Path, mlkube: Run
) -> None:
    kubeconfig = _token_kubeconfig(local_cluster, tmp_path / "kc", "not-a-valid-token")
    result = mlkube("doctor", kubeconfig=kubeconfig)
    assert result.code == EXIT_CLUSTER
    (line,) = result.err.strip().splitlines()
    assert "401 Unauthorized" in line and "log in again" in line


def test_a_server_error_on_a_read_is_retried_with_backoff_then_reported(kube: Kube) -> None:
    """A real 503: an aggregated API whose Service does not exist, as when a metrics
    adapter is down (kube-aggregator answers for it). Reads are retried a few times."""
    group = "mlkube-test.example.com"
    name = f"v1beta1.{group}"
    kube.apply(
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": name},
         "spec": {"group": group, "version": "v1beta1", "groupPriorityMinimum": 100,
                  "versionPriority": 100, "insecureSkipTLSVerify": True,
                  "service": {"namespace": f"{NAMESPACE}-absent", "name": "adapter"}}}
    )  # fmt: skip
    path = f"/apis/{group}/v1beta1"

    def unavailable() -> bool:
        try:
            kube.send("GET", path, idempotent=False)  # not repeated: one look
        except ApiError as exc:
            return exc.status == 503
        return False

    try:
        until("the aggregator to serve the dead API", unavailable)
        before = kube.stats["retry:503"]
        with pytest.raises(ApiError) as info:
            kube.request("GET", path)
        assert info.value.status == 503
        assert kube.stats["retry:503"] - before == kube.retry.fault_retries
    finally:
        kube.delete("apiregistration.k8s.io/v1", "APIService", name)
