from __future__ import annotations

import io

import pytest

from mlkube.errors import InputError
from mlkube.manifests.objects import format_path, manifests
from mlkube.manifests.yamlstream import read_stream, read_text

STREAM = """\
apiVersion: v1
kind: Pod
metadata:
  name: a
spec:
  containers:
    - name: c
      image: x
      resources:
        limits:
          nvidia.com/gpu: 1
---
# an empty document, as Helm leaves them
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: b}
"""


def test_lines_follow_field_paths() -> None:
    docs = read_text(STREAM, "s.yaml")
    pod = next(manifests(docs))
    assert pod.at("spec", "containers", 0, "resources", "limits", "nvidia.com/gpu").line == 11
    assert pod.at("spec", "containers", 0, "image").line == 8
    # a missing field points at its deepest existing parent
    assert pod.at("spec", "containers", 0, "securityContext", "privileged").line == 7


def test_list_items_become_objects_with_their_own_lines() -> None:
    objs = list(manifests(read_text(STREAM, "s.yaml")))
    assert [o.ref.kind for o in objs] == ["Pod", "ConfigMap"]
    assert objs[1].at().line == 18
    assert objs[1].at("metadata", "name").line == 20


def test_scalars_are_typed_like_kubernetes_reads_them() -> None:
    (doc,) = read_text("a: 1\nb: '1'\nc: true\nd: null\ne: 1.5\nf: 2024-01-01\ng: 0x10\n", "t")
    assert doc.obj == {"a": 1, "b": "1", "c": True, "d": None, "e": 1.5, "f": "2024-01-01", "g": 16}


def test_merge_keys_and_aliases_are_shared_not_copied() -> None:
    (doc,) = read_text("base: &b {p: 1, q: 2}\nmerged: {<<: *b, q: 3}\nsame: *b\n", "t")
    assert doc.obj["merged"] == {"p": 1, "q": 3}
    assert doc.obj["same"] is doc.obj["base"]


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(InputError, match="alias bomb") as info:
        read_text("\n".join(lines) + "\n", "bomb.yaml")
    assert str(info.value).startswith("bomb.yaml:1: ")


def test_binary_input_is_refused() -> None:
    with pytest.raises(InputError, match="binary"):
        list(read_stream(io.BytesIO(b"\x7fELF\x02\x01\x00\x00"), "a.out"))


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(InputError, match=r"^x.yaml:1: "):
        list(read_stream(io.BytesIO(b"a: \xff\xfe\n"), "x.yaml"))


def test_syntax_error_names_its_line() -> None:
    with pytest.raises(InputError, match=r"^bad.yaml:4: invalid YAML: .*started on line 3"):
        read_text("a: 1\nb:\n  - [unclosed\n", "bad.yaml")


def test_non_objects_and_missing_kind_are_errors() -> None:
    with pytest.raises(InputError, match=r"^t:1: expected a Kubernetes object, found a list"):
        list(manifests(read_text("- 1\n", "t")))
    with pytest.raises(InputError, match=r"^t:2: object has no kind"):
        list(manifests(read_text("---\napiVersion: v1\nmetadata: {name: a}\n", "t")))


def test_format_path_quotes_keys_with_dots() -> None:
    path = ("spec", "containers", 0, "resources", "limits", "nvidia.com/gpu")
    assert format_path(path) == 'spec.containers[0].resources.limits["nvidia.com/gpu"]'
