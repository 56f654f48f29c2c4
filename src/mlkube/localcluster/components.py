"""The command line of each component of a local cluster: pure functions of the
binaries, the cluster's directory and its ports, so they can be read and tested."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkube.localcluster.binaries import Binaries
from mlkube.localcluster.pki import FRONT_PROXY_CLIENT, FRONT_PROXY_PEM, Pki

PORT_NAMES = (
    "etcd", "etcd-peer", "etcd-metrics", "apiserver", "controller-manager", "scheduler",
    "kwok", "kueue-webhook", "kueue-metrics", "kueue-health",
    "training-operator-webhook", "training-operator-metrics", "training-operator-health",
    "jobset-webhook", "jobset-metrics", "jobset-health",
    "trainer-webhook", "trainer-metrics", "trainer-health",
    "kserve-webhook", "kserve-metrics", "kserve-health",
    "gpu-metrics", "prometheus", "prometheus-adapter",
    "metrics-server",
)  # fmt: skip
SERVICE_RANGE = "10.0.0.0/24"


@dataclass(frozen=True)
class Layout:
    """Where one cluster keeps its files."""

    root: Path
    pki: Pki
    ports: dict[str, int]

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"


def kubeconfig(layout: Layout, name: str) -> dict[str, object]:
    pki = layout.pki
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {"server": layout.server, "certificate-authority": str(pki.ca)},
            }
        ],
        "users": [
            {
                "name": f"{name}-admin",
                "user": {
                    "client-certificate": str(pki.path("admin.crt")),
                    "client-key": str(pki.path("admin.key")),
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
    }


def etcd(b: Binaries, layout: Layout) -> list[str]:
    p = layout.ports
    client = f"http://127.0.0.1:{p['etcd']}"
    peer = f"http://127.0.0.1:{p['etcd-peer']}"
    return [
        b["etcd"],
        "--name=default",
        f"--data-dir={layout.root / 'etcd'}",
        "--unsafe-no-fsync",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        f"--listen-metrics-urls=http://127.0.0.1:{p['etcd-metrics']}",
        "--log-level=warn",
    ]


def apiserver(b: Binaries, layout: Layout) -> list[str]:
    pki, p = layout.pki, layout.ports
    return [
        b["kube-apiserver"],
        f"--etcd-servers=http://127.0.0.1:{p['etcd']}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={p['apiserver']}",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={pki.path('apiserver.crt')}",
        f"--tls-private-key-file={pki.path('apiserver.key')}",
        f"--client-ca-file={pki.ca}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.path('sa.pub')}",
        f"--service-account-signing-key-file={pki.path('sa.key')}",
        f"--service-cluster-ip-range={SERVICE_RANGE}",
        "--authorization-mode=Node,RBAC",
        "--max-requests-inflight=2000",
        "--max-mutating-requests-inflight=1000",
        # The aggregator's front proxy, as kubeadm sets it up: an extension API server
        # (prometheus-adapter) learns the caller from these headers, trusting the client
        # cert the aggregator presents (pki: front-proxy-client).
        f"--requestheader-client-ca-file={pki.ca}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.path(FRONT_PROXY_PEM)}",
        f"--proxy-client-key-file={pki.path(FRONT_PROXY_PEM)}",
    ]


def _client_flags(layout: Layout) -> list[str]:
    config = layout.kubeconfig
    return [
        f"--kubeconfig={config}",
        f"--authentication-kubeconfig={config}",
        f"--authorization-kubeconfig={config}",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--kube-api-qps=500",
        "--kube-api-burst=1000",
    ]


NODE_MONITOR_GRACE = "10m"


def controller_manager(b: Binaries, layout: Layout) -> list[str]:
    pki = layout.pki
    return [
        b["kube-controller-manager"],
        *_client_flags(layout),
        f"--secure-port={layout.ports['controller-manager']}",
        f"--root-ca-file={pki.ca}",
        f"--service-account-private-key-file={pki.path('sa.key')}",
        "--use-service-account-credentials=true",
        f"--service-cluster-ip-range={SERVICE_RANGE}",
        # KWOK heartbeats every fake node; on a loaded machine 1,000 heartbeats fall
        # behind the default 50 s, the nodes flap to Unknown (and their pods would be
        # evicted by taint five minutes on). A reclaimed node is deleted by its stage,
        # not left to go stale, so nothing here waits on a missed heartbeat.
        f"--node-monitor-grace-period={NODE_MONITOR_GRACE}",
    ]


def scheduler(b: Binaries, layout: Layout) -> list[str]:
    return [
        b["kube-scheduler"],
        *_client_flags(layout),
        f"--secure-port={layout.ports['scheduler']}",
    ]


def kwok(b: Binaries, layout: Layout, stages: Path, *, node_port: bool = False) -> list[str]:
    """``node_port``: each node's status names KWOK's server as its kubelet's port
    (``daemonEndpoints``), where metrics-server scrapes it (`resource_metrics`)."""
    port = [f"--node-port={layout.ports['kwok']}"] if node_port else []
    return [
        b["kwok"],
        f"--kubeconfig={layout.kubeconfig}",
        f"--config={stages}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--server-address=127.0.0.1:{layout.ports['kwok']}",
        "--node-ip=127.0.0.1",
        *port,
    ]


# API Priority and Fairness for tests of clients under load ---------------------------

THROTTLE_LEVEL = "mlkube-throttled"
BALLAST_LEVEL = "mlkube-ballast"
# A level's nominal concurrency is ceil(server limit × its shares / all shares)
# (KEP-1040, "Dispatching"). With --max-requests-inflight + --max-mutating-requests-
# inflight = 3000 and the built-in levels' 245 shares, a level of 1 share would still
# get 13 seats; an unused, fully lendable ballast level of 3000 shares brings it to 1
# seat while every other level keeps about 93% of its own (and may borrow the rest).
BALLAST_SHARES = 3000


def throttling(service_accounts: list[str]) -> list[dict[str, Any]]:
    """FlowSchema and PriorityLevelConfiguration objects that give the ServiceAccounts
    ``namespace/name`` one seat of concurrency, rejecting what does not fit with a real
    429 and ``Retry-After`` (``limitResponse: Reject``), as a busy managed control
    plane does. Shaped after the built-in ``global-default`` objects
    (kubernetes apiserver/pkg/apis/flowcontrol/bootstrap/default.go)."""
    if not service_accounts:
        return []
    api = "flowcontrol.apiserver.k8s.io/v1"
    subjects = []
    for account in service_accounts:
        namespace, _, name = account.partition("/")
        subjects.append(
            {"kind": "ServiceAccount", "serviceAccount": {"namespace": namespace, "name": name}}
        )
    level = {
        "apiVersion": api,
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": THROTTLE_LEVEL},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 1,
                "lendablePercent": 0,
                "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Reject"},
            },
        },
    }
    ballast = {
        "apiVersion": api,
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": BALLAST_LEVEL},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": BALLAST_SHARES,
                "lendablePercent": 100,
                "limitResponse": {"type": "Reject"},
            },
        },
    }
    schema = {
        "apiVersion": api,
        "kind": "FlowSchema",
        "metadata": {"name": THROTTLE_LEVEL},
        "spec": {
            "priorityLevelConfiguration": {"name": THROTTLE_LEVEL},
            "matchingPrecedence": 500,  # before service-accounts (9000), after system ones
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [
                {
                    "subjects": subjects,
                    "resourceRules": [
                        {
                            "verbs": ["*"],
                            "apiGroups": ["*"],
                            "resources": ["*"],
                            "clusterScope": True,
                            "namespaces": ["*"],
                        }
                    ],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                }
            ],
        },
    }
    return [level, ballast, schema]
