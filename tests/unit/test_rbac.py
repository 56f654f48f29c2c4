"""`mlkube preflight --print-rbac`: the deployer's roles as data, bound to a subject.
Whether they grant what preflight checks is proven on the local cluster
(tests/integration/test_exec_auth.py)."""

from __future__ import annotations

import yaml

from mlkube.snapshots.facts import ACCESS

from ..conftest import Run


def test_print_rbac_binds_every_role_to_the_subject(mlkube: Run) -> None:
    result = mlkube("preflight", "--print-rbac", "ServiceAccount:ci/deployer", "-n", "ml")
    assert result.code == 0, result.err
    docs = list(yaml.safe_load_all(result.out))
    roles = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"].endswith("Role")}
    bindings = [d for d in docs if d["kind"].endswith("Binding")]
    assert {(b["roleRef"]["kind"], b["roleRef"]["name"]) for b in bindings} == roles
    for b in bindings:
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]
    (role,) = [d for d in docs if d["kind"] == "Role"]
    assert role["metadata"]["namespace"] == "ml"
    granted = sum(len(r["resources"]) for d in docs if d["kind"].endswith("Role")
                  and d["metadata"]["name"] == "mlkube-deployer" for r in d["rules"])  # fmt: skip
    assert granted == len(ACCESS)  # one grant per right checked, no more


def test_print_rbac_without_a_subject_prints_only_roles(mlkube: Run) -> None:
    result = mlkube("preflight", "--print-rbac")
    kinds = [d["kind"] for d in yaml.safe_load_all(result.out)]
    assert result.code == 0 and kinds == ["Role", "ClusterRole", "ClusterRole"]


def test_print_rbac_refuses_a_bad_subject(mlkube: Run) -> None:
    result = mlkube("preflight", "--print-rbac", "Robot:r2d2")
    assert result.code == 2
    assert "use User:NAME, Group:NAME or ServiceAccount:[NS/]NAME" in result.err
