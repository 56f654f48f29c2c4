"""mlkube reads YAML scalars as the API server does: proved by sending the same YAML
(``Content-Type: application/yaml``, server-side dry run) and comparing what it keeps.

Each scalar is placed in a field of a known type: a string (ConfigMap ``data``), an
int32 (PriorityClass ``value``) and a boolean (PriorityClass ``globalDefault``). Where
mlkube reads the type the field wants, the server must accept the object and keep
that value; where mlkube reads another type, the server must refuse it.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlkube.cluster.client import ApiError, Kube
from mlkube.errors import InputError
from mlkube.manifests.yamlstream import read_text

SCALARS = [
    "22:22", "1:30", "12:30", "yes", "Yes", "on", "ON", "y", "n", "No", "off", "True",
    "tRUE", "0777", "0o17", "0x1F", "1_000", "1e3", "08", ".5", "1e400", "2001-12-14",
    "NaN", "+", "-1", "9223372036854775808", "2147483648", "1.0",
]  # fmt: skip


def _post(kube: Kube, path: str, text: str, validation: str = "Strict") -> dict[str, Any]:
    result: dict[str, Any] = kube.request(
        "POST",
        path,
        params={"dryRun": "All", "fieldValidation": validation},
        content=text.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    return result


def _ours(text: str) -> Any:
    (doc,) = read_text(text, "probe.yaml")
    return doc.obj


@pytest.mark.parametrize("scalar", SCALARS)
def test_string_fields_keep_what_mlkube_reads_as_a_string(kube: Kube, scalar: str) -> None:
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: probe}}\ndata:\n  k: {scalar}\n"
    ours = _ours(text)["data"]["k"]
    try:
        stored = _post(kube, "/api/v1/namespaces/default/configmaps", text)["data"]["k"]
    except ApiError as exc:
        assert not isinstance(ours, str), f"server refused {scalar!r}: {exc}"
    else:
        assert stored == ours


@pytest.mark.parametrize("scalar", SCALARS)
def test_int_and_bool_fields_keep_what_mlkube_reads(kube: Kube, scalar: str) -> None:
    for field, other, wanted in (
        ("value", "globalDefault: false", int),
        ("globalDefault", "value: 1", bool),
    ):
        text = (
            "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\n"
            f"metadata: {{name: probe}}\n{other}\n{field}: {scalar}\n"
        )
        ours = _ours(text)[field]
        fits = isinstance(ours, wanted) and not (wanted is int and isinstance(ours, bool))
        if wanted is int and isinstance(ours, float) and ours == int(ours):
            fits, ours = True, int(ours)  # JSON 1000.0 is written 1000: an int32
        if wanted is int and fits and not -(2**31) <= ours < 2**31:
            fits = False
        try:
            result = _post(kube, "/apis/scheduling.k8s.io/v1/priorityclasses", text)
            stored = result.get(field, False if wanted is bool else None)  # false is omitted
        except ApiError as exc:
            assert not fits, f"server refused {field}: {scalar!r}: {exc}"
        else:
            assert fits and stored == ours, (field, scalar, stored, ours)


def test_yaml_1_1_boolean_keys_become_true_and_false(kube: Kube) -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n"
        "  labels: {on: a, n: b, 'y': c}\ndata: {k: v}\n"
    )
    stored = _post(kube, "/api/v1/namespaces/default/configmaps", text)
    assert stored["metadata"]["labels"] == _ours(text)["metadata"]["labels"]
    assert stored["metadata"]["labels"] == {"true": "a", "false": "b", "y": "c"}


def test_duplicate_keys_are_refused_strictly_and_the_last_wins_otherwise(kube: Kube) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe}\ndata:\n  k: one\n  k: two\n"
    (doc,) = read_text(text, "dup.yaml")
    assert [(d.key, d.line, d.first) for d in doc.duplicates] == [("k", 6, 5)]
    with pytest.raises(ApiError, match=r"already set in map|duplicate field"):
        _post(kube, "/api/v1/namespaces/default/configmaps", text)
    kept = _post(kube, "/api/v1/namespaces/default/configmaps", text, validation="Ignore")
    assert kept["data"] == doc.obj["data"] == {"k": "two"}


@pytest.mark.parametrize("scalar", [".inf", "-.Inf", ".nan"])
def test_values_json_cannot_hold_are_refused_by_both(kube: Kube, scalar: str) -> None:
    text = (
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\n"
        f"metadata: {{name: p}}\nvalue: {scalar}\n"
    )
    with pytest.raises(InputError, match="no inf or nan"):
        read_text(text, "inf.yaml")
    with pytest.raises(ApiError):
        _post(kube, "/apis/scheduling.k8s.io/v1/priorityclasses", text)
