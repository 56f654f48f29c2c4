"""The deployer's RBAC as data: a Role and a ClusterRole granting exactly the rights
preflight checks (`snapshots.facts.ACCESS`, rule PF108), and a ClusterRole for what
preflight itself reads, so that preflight can run as the deployer.

`mlkube preflight --print-rbac [SUBJECT]` prints them (with bindings for SUBJECT).
"""

from __future__ import annotations

from typing import Any

from mlkube.errors import UsageError
from mlkube.snapshots.facts import ACCESS, ADAPTER_CONFIGMAP

DEPLOYER = "mlkube-deployer"
READER = "mlkube-preflight-reader"
RBAC = "rbac.authorization.k8s.io/v1"
# What `cluster.facts.gather_facts` lists (the rest it reads is open to every
# authenticated user: /version, discovery, SelfSubjectAccessReview).
PREFLIGHT_READS: tuple[dict[str, list[str]], ...] = (
    {"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["list"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
     "verbs": ["list"]},
    {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["list"]},
    {"apiGroups": ["custom.metrics.k8s.io"], "resources": ["*"], "verbs": ["get", "list"]},
    {"apiGroups": ["apiregistration.k8s.io"], "resources": ["apiservices"], "verbs": ["get"]},
    # the adapter's rules (PF109): the chart's default name and the one mlkube renders
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"],
     "resourceNames": ["prometheus-adapter", ADAPTER_CONFIGMAP[1]]},
)  # fmt: skip


def _rules(cluster: bool) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for check in ACCESS:
        if bool(check.get("cluster")) != cluster:
            continue
        resource = str(check["resource"])
        if "subresource" in check:
            resource += f"/{check['subresource']}"
        rules.append(
            {"apiGroups": [check.get("group", "")], "resources": [resource],
             "verbs": [check["verb"]]}
        )  # fmt: skip
    return rules


def subject(text: str, namespace: str) -> dict[str, str]:
    """``User:jane``, ``Group:ml-deployers`` or ``ServiceAccount:[NAMESPACE/]NAME``."""
    kind, _, name = text.partition(":")
    if kind not in ("User", "Group", "ServiceAccount") or not name:
        raise UsageError(
            f"--print-rbac {text!r}: use User:NAME, Group:NAME or ServiceAccount:[NS/]NAME"
        )
    if kind == "ServiceAccount":
        ns, _, sa = name.rpartition("/")
        return {"kind": kind, "name": sa, "namespace": ns or namespace}
    return {"kind": kind, "name": name, "apiGroup": "rbac.authorization.k8s.io"}


def deployer_rbac(namespace: str, who: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Roles (and, for ``who``, their bindings) for a deployer in ``namespace``."""
    role: dict[str, Any] = {
        "apiVersion": RBAC,
        "kind": "Role",
        "metadata": {"name": DEPLOYER, "namespace": namespace},
        "rules": _rules(False),
    }
    cluster_role: dict[str, Any] = {
        "apiVersion": RBAC,
        "kind": "ClusterRole",
        "metadata": {"name": DEPLOYER},
        "rules": _rules(True),
    }
    reader: dict[str, Any] = {"apiVersion": RBAC, "kind": "ClusterRole",
              "metadata": {"name": READER}, "rules": list(PREFLIGHT_READS)}  # fmt: skip
    objects: list[dict[str, Any]] = [role, cluster_role, reader]
    if who is None:
        return objects
    for ref in (role, cluster_role, reader):
        namespaced = ref["kind"] == "Role"
        name = str(ref["metadata"]["name"])
        binding: dict[str, Any] = {
            "apiVersion": RBAC,
            "kind": "RoleBinding" if namespaced else "ClusterRoleBinding",
            "metadata": {"name": name, **({"namespace": namespace} if namespaced else {})},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref["kind"], "name": name},
            "subjects": [who],
        }
        objects.append(binding)
    return objects
