"""The controller's deployment bundle, as data: ``mlkube controller manifests``.

Least privilege, rule by rule: it reads Nodes and Pods (list/watch for the caches),
patches Nodes (cordon, the notice's first-seen time) and Pods (the request
annotation), evicts Pods (the Eviction API, so PodDisruptionBudgets hold), watches the
training kinds' metadata and patches those it records requests on, creates Events,
and holds one named Lease. No wildcards, no Secrets, no delete.
"""

from __future__ import annotations

from typing import Any

from mlkube import __version__
from mlkube.controller.jobs import KUBEFLOW_KINDS
from mlkube.controller.run import LEASE_NAME
from mlkube.wellknown import HOSTNAME_LABEL, JOBSET_API, SPOT_LABELS, TRAINER_API

NAME = "mlkube-controller"
NAMESPACE = "mlkube-system"
METRICS_PORT = 9402
IMAGE = f"ghcr.io/mlkube/mlkube:{__version__}"
TRAINING_PLURALS = sorted(f"{kind.lower()}s" for kind in KUBEFLOW_KINDS)  # pytorchjobs, …


def cluster_rules() -> list[dict[str, Any]]:
    def rule(group: str, resources: list[str], verbs: list[str]) -> dict[str, Any]:
        return {"apiGroups": [group], "resources": resources, "verbs": verbs}

    return [
        rule("", ["nodes"], ["get", "list", "watch", "patch"]),
        rule("", ["pods"], ["get", "list", "watch", "patch"]),
        rule("", ["pods/eviction"], ["create"]),
        rule("", ["events"], ["create"]),
        rule("kubeflow.org", TRAINING_PLURALS, ["get", "list", "watch", "patch"]),
        rule("batch", ["jobs"], ["get", "list", "watch", "patch"]),
        rule(JOBSET_API.split("/")[0], ["jobsets"], ["get", "list", "watch", "patch"]),
        # Trainer v2: a TrainJob's request is recorded on the TrainJob, not its JobSet
        rule(TRAINER_API.split("/")[0], ["trainjobs"], ["get", "list", "watch", "patch"]),
    ]


def lease_rules() -> list[dict[str, Any]]:
    group = "coordination.k8s.io"
    return [
        # create cannot be limited by name: the name is not known before it exists
        {"apiGroups": [group], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": [group], "resources": ["leases"], "resourceNames": [LEASE_NAME],
         "verbs": ["get", "update"]},
    ]  # fmt: skip


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": NAME}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _not_on_spot() -> dict[str, Any]:
    """The controller must outlive the nodes it watches: keep it off spot capacity."""
    terms = [
        {"key": label, "operator": "NotIn", "values": [value]} for (label, value) in SPOT_LABELS
    ]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": terms}]
            }
        }
    }


def deployment(image: str, namespace: str, replicas: int) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": NAME}
    container = {
        "name": "controller",
        "image": image,
        "args": [
            *("controller", "run", "--lease-namespace", namespace),
            *("--metrics-bind-address", f"0.0.0.0:{METRICS_PORT}"),
        ],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"memory": "256Mi"},
        },
        "readinessProbe": {"httpGet": {"path": "/metrics", "port": "metrics"}},
        "livenessProbe": {
            "httpGet": {"path": "/metrics", "port": "metrics"},
            "initialDelaySeconds": 10,
            "periodSeconds": 20,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME, namespace),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": selector},
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "affinity": _not_on_spot(),
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": HOSTNAME_LABEL,
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector},
                        }
                    ],
                    "containers": [container],
                },
            },
        },
    }


def bundle(
    image: str = IMAGE, namespace: str = NAMESPACE, replicas: int = 2
) -> list[dict[str, Any]]:
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}]
    selector = {"app.kubernetes.io/name": NAME}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, namespace)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": _meta(NAME), "rules": cluster_rules()},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta(NAME), "subjects": subject,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": NAME}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": _meta(f"{NAME}-leader-election", namespace), "rules": lease_rules()},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _meta(f"{NAME}-leader-election", namespace), "subjects": subject,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": f"{NAME}-leader-election"}},
        deployment(image, namespace, replicas),
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": _meta(NAME, namespace),
         "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(NAME, namespace),
         "spec": {"selector": selector,
                  "ports": [{"name": "metrics", "port": METRICS_PORT,
                             "targetPort": "metrics"}]}},
    ]  # fmt: skip
