"""Lint never reports "no findings" about input it could not read, and its config file
is refused when it says something lint cannot do (issue 14)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ..conftest import EXAMPLES
from .runner import run_cli
from .unprivileged import run_unprivileged

# A job that MK101 (gpu-limit-missing) fires on: lint must find it, not skip it.
GPU_JOB = """\
apiVersion: batch/v1
kind: Job
metadata: {name: train, namespace: ml}
spec:
  template:
    spec:
      containers:
      - name: t
        image: trainer:1.0
        resources: {requests: {nvidia.com/gpu: 1}}
"""


def _tree_with_a_job(root: Path) -> Path:
    (root / "manifests" / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLES / "platform.yaml", root / "manifests" / "platform.yaml")
    (root / "manifests" / "sub" / "job.yaml").write_text(GPU_JOB)
    return root / "manifests"


def test_the_premise_a_readable_tree_has_findings(shared_dir: Path) -> None:
    tree = _tree_with_a_job(shared_dir)
    result = run_unprivileged("lint", str(tree), "--config", "/dev/null", cwd=shared_dir)
    assert result.code == 1, result.err
    assert "MK101" in result.out


def test_an_unlistable_directory_is_an_error(shared_dir: Path) -> None:
    tree = _tree_with_a_job(shared_dir)
    (tree / "sub").chmod(0o000)
    result = run_unprivileged("lint", str(tree), "--config", "/dev/null", cwd=shared_dir)
    assert result.code == 2
    assert result.err.splitlines() == [f"mlkube: {tree / 'sub'}:0: cannot list: Permission denied"]
    assert result.out == ""


def test_an_unreadable_file_in_a_directory_is_an_error(shared_dir: Path) -> None:
    tree = _tree_with_a_job(shared_dir)
    (tree / "sub" / "job.yaml").chmod(0o000)
    result = run_unprivileged("lint", str(tree), "--config", "/dev/null", cwd=shared_dir)
    assert result.code == 2
    assert result.err.splitlines() == [
        f"mlkube: {tree / 'sub' / 'job.yaml'}:0: cannot read: Permission denied"
    ]


def test_a_listable_but_unsearchable_directory_is_an_error(shared_dir: Path) -> None:
    """Mode 644 on a directory: its names can be read, its files cannot be opened."""
    tree = _tree_with_a_job(shared_dir)
    (tree / "sub").chmod(0o644)
    result = run_unprivileged("lint", str(tree), "--config", "/dev/null", cwd=shared_dir)
    assert result.code == 2 and "Traceback" not in result.err
    assert "sub/job.yaml:0: cannot read: Permission denied" in result.err


def test_an_unsearchable_working_directory_is_a_clean_error(shared_dir: Path) -> None:
    """The default `.mlkube.yaml` lookup cannot tell whether the file exists: that is an
    error (the config could disable rules), and --config is the way out."""
    cwd = shared_dir / "cwd"
    cwd.mkdir()
    cwd.chmod(0o000)
    result = run_unprivileged("lint", str(EXAMPLES), cwd=cwd)
    assert result.code == 2
    assert len(result.err.splitlines()) == 1
    assert "cannot tell whether .mlkube.yaml exists" in result.err
    assert "--config" in result.err
    explicit = run_unprivileged("lint", str(EXAMPLES), "--config", "/dev/null", cwd=cwd)
    assert explicit.code == 0, explicit.err


def test_a_symlink_loop_says_so(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    result = run_cli("lint", str(tmp_path / "loop.yaml"))
    assert result.code == 2
    assert result.err_lines == [
        f"mlkube: {tmp_path}/loop.yaml:0: too many levels of symbolic links"
    ]


def test_a_dangling_symlink_in_a_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    result = run_cli("lint", str(tmp_path))
    assert result.code == 2
    assert result.err_lines == [
        f"mlkube: {tmp_path}/gone.yaml:0: cannot read: No such file or directory"
    ]


@pytest.mark.parametrize(
    ("config", "line", "message"),
    [
        ("lint:\n  disable: [MK101]\n---\nlint: {}\n", 4, "a second YAML document"),
        ("lint:\n  disable:\n  - MK101\n  - MK9999\n", 4, "no lint rule 'MK9999'"),
        (
            "lint:\n  severity:\n    MK101: error\n    gpu-nope: info\n",
            4,
            "no lint rule 'gpu-nope'",
        ),
    ],
)
def test_config_errors_name_their_line(
    tmp_path: Path, config: str, line: int, message: str
) -> None:
    (tmp_path / "c.yaml").write_text(config)
    result = run_cli("lint", str(EXAMPLES), "--config", str(tmp_path / "c.yaml"))
    assert result.code == 2
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(f"mlkube: {tmp_path / 'c.yaml'}:{line}: {message}")


def test_a_config_that_names_known_rules_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "lint:\n  disable: [gpu-limit-missing]\n  severity: {MK104: error}\n"
    )
    (tmp_path / "job.yaml").write_text(GPU_JOB)
    result = run_cli("lint", str(tmp_path / "job.yaml"), "--config", str(tmp_path / "c.yaml"))
    assert "MK101" not in result.out and result.err == ""


def test_a_config_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a.yaml").write_text("lint: {}\n")
    result = run_cli("lint", str(EXAMPLES), "--config", str(tmp_path / "conf"))
    assert result.code == 2
    assert result.err_lines == [f"mlkube: {tmp_path / 'conf'}:0: cannot read: Is a directory"]


@pytest.mark.parametrize("rule", ["MK9999", "gpu-nope"])
def test_disabling_an_unknown_rule_is_a_usage_error(rule: str) -> None:
    result = run_cli("lint", str(EXAMPLES), "--disable", rule, "--config", "/dev/null")
    assert result.code == 2
    assert result.err_lines == [
        f"mlkube: --disable {rule}: no lint rule by that id or name; `mlkube rules`"
    ]


def test_disabling_a_known_rule_by_name_works(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(GPU_JOB)
    args = ("lint", str(tmp_path / "job.yaml"), "--config", "/dev/null")
    assert "MK101" in run_cli(*args).out
    assert "MK101" not in run_cli(*args, "--disable", "gpu-limit-missing").out


def test_a_closed_standard_input_is_an_error() -> None:
    """`mlkube lint - <&-`: Python starts with sys.stdin None."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlkube", "lint", "-", "--config", "/dev/null"],
        capture_output=True,
        preexec_fn=lambda: os.close(0),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == ["mlkube: <stdin>:0: standard input is closed"]


# Issue 17 §3: a repository tree is linted as kube-linter lints one.

# Shaped after kubernetes-sigs/kueue site/static/examples/admin/single-clusterqueue-setup.yaml.
QUEUE_SETUP = """\
apiVersion: kueue.x-k8s.io/v1beta1
kind: LocalQueue
metadata:
  namespace: default
  name: user-queue
spec:
  clusterQueue: cluster-queue
"""
# Shaped after kubernetes/website content/en/examples/controllers/job.yaml.
PI_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
      - name: pi
        image: perl:5.34.0
      restartPolicy: Never
"""


def _json(*args: str, stdin: bytes = b"") -> tuple[int, dict[str, Any]]:
    result = run_cli("lint", *args, "--format", "json", "--config", "/dev/null", stdin=stdin)
    assert result.err == "", result.err
    report: dict[str, Any] = json.loads(result.out)
    return result.code, report


def _skips(report: dict[str, Any], root: Path) -> list[tuple[str, int, str]]:
    return [
        (str(Path(s["file"]).relative_to(root)), s["line"], s["reason"])
        for s in report["skippedFiles"]
    ]


def test_files_in_a_tree_that_are_not_objects_are_skipped_and_listed(tmp_path: Path) -> None:
    (tmp_path / "request.json").write_text('{"instances": [[6.8, 2.8, 4.8, 1.4]]}\n')
    (tmp_path / "list.yaml").write_text("- one\n- two\n")
    (tmp_path / "readme.yaml").write_text("# notes\ntitle: Examples\nkind: Tutorial\n")
    (tmp_path / "job.yaml").write_text(GPU_JOB)
    code, report = _json(str(tmp_path))
    assert code == 1 and {f["rule"] for f in report["findings"]} >= {"MK101"}
    assert _skips(report, tmp_path) == [
        ("list.yaml", 1, "not a Kubernetes object: expected a Kubernetes object, found a list"),
        ("readme.yaml", 2, "not a Kubernetes object: object has no apiVersion"),
        ("request.json", 1, "not a Kubernetes object: object has no apiVersion"),
    ]
    assert report["summary"]["skippedFiles"] == 3
    text = run_cli("lint", str(tmp_path), "--config", "/dev/null")
    assert text.out.splitlines()[-1] == (
        "Skipped 3 files that are not Kubernetes objects (--format json lists them and why)."
    )


def test_a_named_file_that_is_not_an_object_is_still_an_error(tmp_path: Path) -> None:
    """Named on the command line, a file is meant to be a manifest: as kubectl apply -f
    refuses it, lint says so rather than report "no findings" about it."""
    (tmp_path / "values.yaml").write_text("replicaCount: 1\nimage:\n  repository: nginx\n")
    result = run_cli("lint", str(tmp_path / "values.yaml"), "--config", "/dev/null")
    assert result.code == 2
    assert result.err_lines == [f"mlkube: {tmp_path / 'values.yaml'}:1: object has no apiVersion"]


def test_a_named_kustomization_is_skipped_with_the_way_to_lint_it(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n- job.yaml\n")
    (tmp_path / "job.yaml").write_text(GPU_JOB)
    code, report = _json(str(tmp_path / "kustomization.yaml"), str(tmp_path / "job.yaml"))
    assert code == 1 and report["summary"]["objects"] == 1
    assert _skips(report, tmp_path) == [
        ("kustomization.yaml", 1, "a kustomization: lint what it builds with --kustomize DIR")
    ]


def test_broken_yaml_in_a_tree_is_still_an_error(tmp_path: Path) -> None:
    """No template marks: a manifest kubectl would refuse, not a file to skip."""
    (tmp_path / "a.yaml").write_text(GPU_JOB)
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: ConfigMap\ndata:\n  k: [1, 2\n")
    result = run_cli("lint", str(tmp_path), "--config", "/dev/null")
    assert result.code == 2 and result.out == ""
    (line,) = result.err_lines
    assert line.startswith(f"mlkube: {tmp_path / 'b.yaml'}:5: invalid YAML:")


def test_templates_are_skipped_unless_they_are_yaml_as_written(tmp_path: Path) -> None:
    """`{{ }}` that breaks the YAML is a Helm template to render first; `{{ }}` inside
    quoted strings (Argo Workflows' parameters) is YAML, and linted. A chart's files
    are skipped whole: its templates are only YAML once rendered."""
    (tmp_path / "helm-like.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    (tmp_path / "argo.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: '{{workflow.name}}', namespace: ml}\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: t\n        image: x:1\n"
        "        resources: {requests: {nvidia.com/gpu: 1}}\n"
    )
    (tmp_path / "chart" / "templates").mkdir(parents=True)
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (tmp_path / "chart" / "templates" / "svc.yaml").write_text(
        'apiVersion: v1\nkind: Service\nmetadata:\n  name: "{{ .Release.Name }}"\n'
    )
    code, report = _json(str(tmp_path))
    assert code == 1
    assert [f["rule"] for f in report["findings"] if f["rule"] == "MK101"] == ["MK101"]
    chart = f"part of the Helm chart {tmp_path / 'chart'}: lint what it renders "
    assert _skips(report, tmp_path) == [
        ("chart/Chart.yaml", 1, chart + "(helm template CHART | mlkube lint -)"),
        ("chart/templates/svc.yaml", 1, chart + "(helm template CHART | mlkube lint -)"),
        (
            "helm-like.yaml",
            4,
            "a template ({{ }}), not YAML until rendered: a mapping key must be a scalar",
        ),
    ]


@pytest.mark.parametrize(("scope", "fires"), [("file", False), ("dir", True), ("all", True)])
def test_cross_object_rules_see_one_deployment_unit(
    tmp_path: Path, scope: str, fires: bool
) -> None:
    """Two unrelated examples in one folder: Kueue's LocalQueue in `default` does not make
    the `pi` Job "miss its queue label" unless they are linted as one unit."""
    (tmp_path / "single-clusterqueue-setup.yaml").write_text(QUEUE_SETUP)
    (tmp_path / "job.yaml").write_text(PI_JOB)
    _, report = _json(str(tmp_path), "--scope", scope)
    found = [(f["name"], f["line"]) for f in report["findings"] if f["rule"] == "MK804"]
    assert found == ([("queue-label-missing", 3)] if fires else [])
    assert report["summary"]["scope"] == scope
    assert report["summary"]["units"] == {"file": 2, "dir": 1, "all": 1}[scope]


def test_stdin_is_one_unit() -> None:
    code, report = _json("-", stdin=f"{QUEUE_SETUP}---\n{PI_JOB}".encode())
    assert [f["name"] for f in report["findings"]] == ["queue-label-missing"]
    assert code == 1


def test_a_kustomization_directory_is_one_unit(tmp_path: Path) -> None:
    """The files of a kustomization are deployed together: they judge each other."""
    (tmp_path / "kustomization.yaml").write_text("resources: [queue.yaml, job.yaml]\n")
    (tmp_path / "queue.yaml").write_text(QUEUE_SETUP)
    (tmp_path / "job.yaml").write_text(PI_JOB)
    _, report = _json(str(tmp_path))
    assert [f["name"] for f in report["findings"]] == ["queue-label-missing"]
    assert report["summary"]["units"] == 1


def test_the_text_report_says_how_units_were_formed(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(QUEUE_SETUP)
    (tmp_path / "b.yaml").write_text(PI_JOB)
    result = run_cli("lint", str(tmp_path), "--config", "/dev/null")
    assert result.out.splitlines()[-1] == (
        "Cross-object rules saw 2 deployment units, each file, kustomization directory, "
        "--kustomize build and stdin on its own (--scope all to see them together)."
    )


def test_kustomize_needs_a_kustomization(tmp_path: Path) -> None:
    result = run_cli("lint", "--kustomize", str(tmp_path), "--config", "/dev/null")
    assert result.code == 2
    assert result.err_lines == [
        f"mlkube: {tmp_path}:0: --kustomize: not a directory with a kustomization.yaml"
    ]


def test_lint_needs_something_to_read() -> None:
    result = run_cli("lint", "--config", "/dev/null")
    assert result.code == 2
    assert result.err_lines == [
        "mlkube: no input: give PATH arguments, -f PATH (- for standard input) or --kustomize DIR"
    ]
