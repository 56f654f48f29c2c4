"""The controller's deployment bundle: valid, lint-clean, least privilege, and the copy
shipped in deploy/ is the one the code renders."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlkube.controller.manifests import bundle, cluster_rules, lease_rules
from mlkube.lint import lint_manifests
from mlkube.manifests.objects import live_manifest

from ..test_schemas import validate

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "controller.yaml"


def test_shipped_bundle_is_current() -> None:
    assert list(yaml.safe_load_all(DEPLOY.read_text())) == bundle(), "run `make docs`"


def test_every_object_validates() -> None:
    for obj in bundle():
        assert validate(obj) is None, obj["kind"]


def test_rbac_has_no_wildcards_no_secrets_no_delete() -> None:
    for rule in [*cluster_rules(), *lease_rules()]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field]
        assert "secrets" not in rule["resources"]
        assert not {"delete", "deletecollection", "escalate", "bind"} & set(rule["verbs"])


def test_lease_updates_are_limited_to_its_own_lease() -> None:
    named = [r for r in lease_rules() if "update" in r["verbs"]]
    assert named and all(r.get("resourceNames") == ["mlkube-controller"] for r in named)


def test_bundle_passes_mlkubes_own_lint() -> None:
    report = lint_manifests(live_manifest(o, "deploy/controller.yaml") for o in bundle())
    assert report.objects == len(bundle()) and report.findings == []


def test_the_controller_stays_off_spot_capacity() -> None:
    deployment = next(o for o in bundle() if o["kind"] == "Deployment")
    terms = deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"][0]["matchExpressions"]
    avoided = {(t["key"], t["values"][0]) for t in terms if t["operator"] == "NotIn"}
    assert ("eks.amazonaws.com/capacityType", "SPOT") in avoided
    assert ("cloud.google.com/gke-spot", "true") in avoided
    assert ("kubernetes.azure.com/scalesetpriority", "spot") in avoided
