"""The reproducers of issue 14 (YAML, numbers, lint crash sites, regexes), each as a
plain test through the real CLI: one clean line and exit code 2, or a correct result.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest

from mlkube.lint import lint_paths
from mlkube.manifests.yamlstream import read_text

from ..conftest import EXAMPLES, Run


def _one_line_error(result: object, *, where: str, says: str) -> None:
    code, err = result.code, result.err  # type: ignore[attr-defined]
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"mlkube: {where}"), err
    assert says in err, err


def _lint_rules(tmp_path: Path, text: str) -> dict[str, list[int]]:
    path = tmp_path / "in.yaml"
    path.write_text(text)
    found: dict[str, list[int]] = {}
    for f in lint_paths([str(path)]).findings:
        found.setdefault(f.name, []).append(f.where.line)
    return found


POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: p, namespace: ml}}
spec:
  containers:
    - name: c
      image: trainer:1.0
      resources:
        limits: {{nvidia.com/gpu: {gpu}, memory: 8Gi}}
        requests: {{memory: 8Gi}}
"""

PYTORCHJOB = """\
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {{name: j, namespace: ml}}
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      template:
        spec:
          containers: [{{name: pytorch, image: "t:1"}}]
    {role}:
      replicas: {replicas}
      template:
        spec:
          containers: [{{name: pytorch, image: "t:1"}}]
"""


# YAML ---------------------------------------------------------------------------------


def test_bad_binary_is_one_line(mlkube: Run) -> None:
    result = mlkube("lint", "-", stdin=b"a: !!binary abc\n")
    _one_line_error(result, where="<stdin>:1:", says="invalid base64")


def test_deep_nesting_is_bounded_with_a_clear_error(mlkube: Run) -> None:
    result = mlkube("lint", "-", stdin=("x: " + "[" * 500 + "]" * 500 + "\n").encode())
    _one_line_error(result, where="<stdin>:1:", says="nested deeper than 256 levels")


def test_nesting_within_the_bound_is_read(mlkube: Run) -> None:
    deep = "[" * 200 + "]" * 200
    stdin = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\nbinaryData: {{x: {deep}}}\n"
    result = mlkube("lint", "-", stdin=stdin.encode())
    assert result.code == 0, result.err


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_decoded(
    mlkube: Run, tmp_path: Path, encoding: str
) -> None:
    """kubectl reads files through unicode.BOMOverride (k8s.io/cli-runtime's
    FileVisitor), so a UTF-16 file with a BOM is read, as Windows editors save it."""
    bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n"
    path = tmp_path / "windows.yaml"
    path.write_bytes(bom + text.encode(encoding))
    result = mlkube("lint", str(path))
    assert result.code == 0, result.err
    assert "1 object" in result.out


def test_utf16_without_a_byte_order_mark_is_still_refused(mlkube: Run, tmp_path: Path) -> None:
    path = tmp_path / "nobom.yaml"
    path.write_bytes("apiVersion: v1\n".encode("utf-16-le"))
    _one_line_error(mlkube("lint", str(path)), where=f"{path}:1:", says="NUL byte")


def test_sexagesimal_looking_values_are_strings_as_in_kubernetes() -> None:
    (doc,) = read_text("a: 1:30\nb: 12:30\nc: 22:22\nd: 190:20:30\n", "t")
    assert doc.obj == {"a": "1:30", "b": "12:30", "c": "22:22", "d": "190:20:30"}


def test_yaml_1_1_booleans_as_go_yaml_reads_them() -> None:
    (doc,) = read_text("on: yes\nn: Off\nkey: y\nother: yEs\n'y': NO\n", "t")
    assert doc.obj == {"true": True, "false": False, "key": True, "other": "yEs", "y": False}


def test_numbers_as_go_yaml_reads_them() -> None:
    (doc,) = read_text("a: 0777\nb: 08\nc: 1_000\nd: 1e3\ne: 1e400\nf: 0o17\ng: .5\n", "t")
    assert doc.obj == {"a": 511, "b": 8.0, "c": 1000, "d": 1000.0, "e": "1e400", "f": 15, "g": 0.5}


def test_lines_follow_keys_read_as_booleans() -> None:
    (doc,) = read_text("a: 1\non: 2\n", "t")
    assert doc.line_of(["true"]) == 2


def test_duplicate_keys_are_recorded_and_the_last_wins() -> None:
    (doc,) = read_text("a:\n  b: 1\n  c: 2\n  b: 3\n", "t")
    assert doc.obj == {"a": {"b": 3, "c": 2}}
    assert [(d.path, d.key, d.line, d.first) for d in doc.duplicates] == [(("a",), "b", 4, 2)]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a: .inf\n", "no inf or nan"),
        ("a: .nan\n", "no inf or nan"),
        ("~: 1\n", "null mapping key"),
        ("a: !!int x\n", "cannot decode !!str `x` as a !!int"),
        ("a: " + "9" * 5000 + "\n", "5000 digits"),
    ],
)
def test_values_the_api_server_cannot_convert_are_one_line(
    mlkube: Run, text: str, says: str
) -> None:
    _one_line_error(mlkube("lint", "-", stdin=text.encode()), where="<stdin>:1:", says=says)


# Lint crash sites ---------------------------------------------------------------------


@pytest.mark.parametrize("gpu", [".inf", ".nan"])
def test_gpu_count_that_is_not_a_number(mlkube: Run, gpu: str) -> None:
    result = mlkube("lint", "-", stdin=POD.format(gpu=gpu).encode())
    _one_line_error(result, where="<stdin>:9:", says="no inf or nan")


def test_gpu_count_of_1e400_is_a_whole_count(tmp_path: Path) -> None:
    """go-yaml reads 1e400 as the string "1e400" (ParseFloat overflows), a valid quantity."""
    found = _lint_rules(tmp_path, POD.format(gpu="1e400"))
    assert "gpu-count-fractional" not in found and "schema-invalid" not in found


def test_gpu_count_of_half_a_device_still_fires(tmp_path: Path) -> None:
    assert _lint_rules(tmp_path, POD.format(gpu="0.5"))["gpu-count-fractional"] == [9]


@pytest.mark.parametrize("replicas", ["9" * 4000, "three", "-2", "2147483648", "1.5"])
def test_replicas_that_are_no_int32_are_schema_errors(tmp_path: Path, replicas: str) -> None:
    found = _lint_rules(tmp_path, PYTORCHJOB.format(role="Worker", replicas=replicas))
    assert found["schema-invalid"] == [12]


@pytest.mark.parametrize("role", ["1.5", "on", "'7'"])
def test_odd_role_keys_are_linted(mlkube: Run, tmp_path: Path, role: str) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(PYTORCHJOB.format(role=role, replicas=2))
    result = mlkube("lint", str(path))
    assert result.code in (0, 1) and "Traceback" not in result.err, result.err


def test_a_null_role_key_is_one_line(mlkube: Run) -> None:
    result = mlkube("lint", "-", stdin=PYTORCHJOB.format(role="~", replicas=2).encode())
    _one_line_error(result, where="<stdin>:11:", says="null mapping key")


def test_odd_values_where_lists_and_strings_are_read(tmp_path: Path) -> None:
    text = PYTORCHJOB.format(role="Worker", replicas=2) + (
        "          volumes: [{name: d, hostPath: {path: /data, type: []}}]\n"
        "---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: np, namespace: ml}\n"
        "spec:\n  podSelector:\n    matchExpressions: [{key: a, operator: In, values: 7}]\n"
        "  policyTypes: [Ingress]\n"
        "---\n"
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
        "metadata: {name: llm, namespace: ml}\n"
        "spec:\n  predictor:\n    scaleMetric: []\n"
        "    containers: [{name: m, image: 'v:1', resources: {limits: {nvidia.com/gpu: 1}}}]\n"
    )
    found = _lint_rules(tmp_path, text)
    assert found  # linted to the end, with findings, not a TypeError


ADAPTER = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: adapter-config, namespace: monitoring}}
data:
  config.yaml: |
    rules:
    - seriesQuery: '{{__name__=~"^DCGM_.*"}}'
      seriesFilters: {filters}
      name: {{matches: "{matches}", as: "gpu_util"}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: llm, namespace: ml}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: llm}}
  minReplicas: 1
  maxReplicas: 4
  metrics:
    - type: Pods
      pods:
        metric: {{name: gpu_util}}
        target: {{type: AverageValue, averageValue: "70"}}
"""


def test_series_filters_that_are_not_a_list(tmp_path: Path) -> None:
    found = _lint_rules(tmp_path, ADAPTER.format(filters="5", matches="^DCGM_FI_DEV_GPU_UTIL$"))
    assert "hpa-gpu-metric-unknown" not in found  # the rule still exposes gpu_util


def test_catastrophic_regex_runs_in_linear_time(mlkube: Run, tmp_path: Path) -> None:
    """Python's re takes exponential time on this pattern; RE2 (as Go) does not. The CLI
    runner's timeout is the guard; the assertion is the outcome."""
    pattern = "^(([A-Z_]+)+)+[a-z]$"
    path = tmp_path / "adapter.yaml"
    path.write_text(ADAPTER.format(filters=f'[{{isNot: "{pattern}"}}]', matches=pattern))
    result = mlkube("lint", str(path))
    assert result.code in (0, 1), result.err
    assert "adapter-regex-invalid" not in result.out


def test_a_regex_go_refuses_is_a_finding_not_true(tmp_path: Path) -> None:
    found = _lint_rules(tmp_path, ADAPTER.format(filters="[]", matches="^(?=DCGM)(.*)$"))
    assert found["adapter-regex-invalid"] == [5]
    # A refused rule exposes nothing, so the HPA's metric is unknown again.
    assert "hpa-gpu-metric-unknown" in found


# Accepted silently before -------------------------------------------------------------


@pytest.mark.parametrize(
    ("containers", "field"),
    [("17", "spec.containers"), ("nginx", "spec.containers"), ("{name: c}", "spec.containers")],
)
def test_containers_of_the_wrong_type(tmp_path: Path, containers: str, field: str) -> None:
    text = f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: {containers}\n"
    path = tmp_path / "pod.yaml"
    path.write_text(text)
    (finding,) = [f for f in lint_paths([str(path)]).findings if f.name == "schema-invalid"]
    assert (finding.where.line, finding.where.field) == (5, field)


def test_spec_as_a_string_and_template_as_a_list(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: running\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
        "spec:\n  replicas: 1\n  template: []\n"
    )
    assert _lint_rules(tmp_path, text)["schema-invalid"] == [4, 11]


def test_quantity_with_a_wrong_case_suffix(tmp_path: Path) -> None:
    text = POD.format(gpu=1).replace("gpu: 1, memory: 8Gi", "gpu: 1, memory: 500mi")
    found = _lint_rules(tmp_path, text)
    assert found["schema-invalid"] == [9]


# Specs and render ---------------------------------------------------------------------


def _spec_dir(tmp_path: Path, replace: tuple[str, str], name: str = "resnet-training.yaml") -> Path:
    (tmp_path / "platform.yaml").write_text((EXAMPLES / "platform.yaml").read_text())
    text = (EXAMPLES / name).read_text()
    assert re.search(replace[0], text, re.MULTILINE), replace
    (tmp_path / name).write_text(re.sub(replace[0], replace[1], text, count=1, flags=re.M))
    return tmp_path


@pytest.mark.parametrize(
    ("pattern", "value", "says"),
    [
        (r"^(\s+nodes:) \d+", r"\1 " + "1" + "0" * 30, "valid integer"),  # a float to go-yaml
        (r"^(\s+nodes:) \d+", r"\1 " + "1" + "0" * 19, "less than or equal to 2147483647"),
        (r"^(\s+nodes:) \d+", r"\1 true", "valid integer"),
        (r"^(\s+memory:) \S+", r"\1 '1e400'", "larger than Kubernetes can count"),
        (r"^(\s+memory:) \S+", r"\1 500mi", "not a positive Kubernetes quantity"),
        (r"^(\s+memory: \S+)", r"\1\n  shm: '1e400'", "larger than Kubernetes can count"),
    ],
)
def test_render_refuses_odd_numbers_with_a_line(
    mlkube: Run, tmp_path: Path, pattern: str, value: str, says: str
) -> None:
    folder = _spec_dir(tmp_path, (pattern, value))
    result = mlkube("render", str(folder), "--output-dir", str(tmp_path / "out"))
    assert result.code == 2 and "Traceback" not in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1 and says in result.err, result.err
    assert re.match(r"mlkube: .*resnet-training.yaml:\d+: spec\.", result.err), result.err
    assert not (tmp_path / "out").exists()


def test_render_refuses_a_huge_pool_quantity(mlkube: Run, tmp_path: Path) -> None:
    platform = (EXAMPLES / "platform.yaml").read_text()
    assert re.search(r"^(\s+memory:) \S+", platform, re.M)
    (tmp_path / "platform.yaml").write_text(
        re.sub(r"^(\s+memory:) \S+", r"\1 '1e400'", platform, count=1, flags=re.M)
    )
    result = mlkube("render", str(tmp_path), "--output-dir", str(tmp_path / "out"))
    assert result.code == 2 and "larger than Kubernetes can count" in result.err, result.err
