"""The Helm chart, checked by the real Helm (v4, built from its Go module by
tools/build.sh helm): it lints, its defaults render what `mlkube controller manifests`
renders (the RBAC rules above all), its output passes `mlkube lint`, and its values do
what values.yaml says."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.controller import chart
from mlkube.controller.manifests import METRICS_PORT, NAME, NAMESPACE, bundle

from ..conftest import ROOT, Run
from .tools import built

CHART = ROOT / "deploy" / "helm" / "mlkube-controller"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
RBAC_KINDS = ("ClusterRole", "Role")


@pytest.fixture(scope="module")
def helm() -> Path:
    return built("helm", "helm")


def _helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, timeout=120, check=False
    )


def template(helm: Path, *args: str, release: str = NAME) -> list[dict[str, Any]]:
    proc = _helm(helm, "template", release, str(CHART), "--namespace", NAMESPACE, *args)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def by_kind(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for obj in objs:
        assert obj["kind"] not in out, f"two {obj['kind']}s"
        out[obj["kind"]] = obj
    return out


def _without_labels(obj: Any) -> Any:
    """``obj`` with its labels and label selectors set aside: the chart adds Helm's
    standard labels (instance, version, chart) that a bare bundle has no use for."""
    if isinstance(obj, list):
        return [_without_labels(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {
        k: "<labels>" if k in ("labels", "matchLabels") else _without_labels(v)
        for k, v in obj.items()
    }
    if obj.get("kind") == "Service":
        out["spec"] = {**out["spec"], "selector": "<labels>"}
    return out


def test_chart_version_is_the_package_version() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["version"] == VERSION and meta["appVersion"] == VERSION


def test_the_charts_data_file_is_generated_from_mlkube() -> None:
    assert (CHART / "files" / "controller.yaml").read_text() == chart.render(), (
        "files/controller.yaml is stale: run `make docs`"
    )


def test_helm_lint_passes_strict(helm: Path) -> None:
    proc = _helm(helm, "lint", "--strict", str(CHART))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


def test_rbac_is_the_bundles_rule_for_rule_with_no_wildcard(helm: Path) -> None:
    rendered = by_kind(template(helm))
    expected = by_kind(bundle(namespace=NAMESPACE))
    for kind in RBAC_KINDS:
        assert rendered[kind]["rules"] == expected[kind]["rules"], kind
        for rule in rendered[kind]["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in rule.get(field, []), (kind, rule)


def test_defaults_render_the_bundle_object_for_object(helm: Path) -> None:
    """Same kinds, names and specs as `mlkube controller manifests` (the Namespace is
    Helm's --create-namespace), labels aside."""
    rendered = by_kind(template(helm))
    expected = by_kind(bundle(namespace=NAMESPACE))
    assert expected.pop("Namespace")
    assert sorted(rendered) == sorted(expected)
    for kind, obj in expected.items():
        assert _without_labels(rendered[kind]) == _without_labels(obj), kind


def test_rendered_chart_passes_mlkube_lint(helm: Path, mlkube: Run) -> None:
    for extra in ([], ["--set", "metrics.serviceMonitor.enabled=true",
                       "--set", "priorityClassName=system-cluster-critical"]):  # fmt: skip
        proc = _helm(helm, "template", NAME, str(CHART), "--namespace", NAMESPACE, *extra)
        assert proc.returncode == 0, proc.stderr
        result = mlkube("lint", "-", "--fail-on", "info", stdin=proc.stdout.encode())
        assert result.code == 0, result.out + result.err
        assert result.out.startswith("No findings in ")


def test_values_reach_the_deployment(helm: Path, tmp_path: Path) -> None:
    values = {
        "image": {"repository": "registry.example/mlkube", "tag": "0.1.0-rc1"},
        "replicas": 1,
        "leaderElection": {"enabled": False},
        "controller": {
            "workers": 4,
            "resyncSeconds": 10,
            "refusedRetrySeconds": 5,
            "giveUpAfterSeconds": 90,
            "extraArgs": ["--watch-timeout=120"],
        },
        "terminationGracePeriodSeconds": 60,
        "priorityClassName": "system-cluster-critical",
        "avoidSpot": False,
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "system"}],
    }
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    objs = by_kind(template(helm, "--values", str(path)))
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "registry.example/mlkube:0.1.0-rc1"
    assert container["args"] == [
        "controller", "run", "--lease-namespace", NAMESPACE,
        "--metrics-bind-address", f"0.0.0.0:{METRICS_PORT}",
        "--no-leader-elect", "--workers", "4", "--resync", "10", "--refused-retry", "5",
        "--give-up-after", "90", "--watch-timeout=120",
    ]  # fmt: skip
    assert pod["terminationGracePeriodSeconds"] == 60
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert "affinity" not in pod
    assert pod["tolerations"] == values["tolerations"]
    assert "PodDisruptionBudget" not in objs  # one replica: a PDB would block every drain


def test_service_monitor_selects_the_metrics_service(helm: Path) -> None:
    assert "ServiceMonitor" not in by_kind(template(helm))
    objs = by_kind(template(helm, "--set", "metrics.serviceMonitor.enabled=true",
                           "--set", "metrics.serviceMonitor.labels.release=prom"))  # fmt: skip
    monitor, service = objs["ServiceMonitor"], objs["Service"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]
    assert monitor["metadata"]["labels"]["release"] == "prom"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "replicas=3", "--set", "leaderElection.enabled=false"],
         "leaderElection.enabled=false with replicas=3"),
        (["--set", "replicas=two"], "replicas"),
        (["--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.service.enabled=false"],
         "a ServiceMonitor selects a Service"),
        (["--set", "replica=2"], "replica"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_with_a_reason(helm: Path, args: list[str], message: str) -> None:
    proc = _helm(helm, "template", NAME, str(CHART), *args)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
