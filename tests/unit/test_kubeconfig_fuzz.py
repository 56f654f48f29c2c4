"""Property: whatever a kubeconfig holds, loading it (and building its TLS context)
either works or raises one MlkubeError line naming the file; never another exception.

A fixed, small budget so CI stays fast; examples found failing are kept as @example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlkube.cluster.auth import tls_context
from mlkube.cluster.kubeconfig import load_connection
from mlkube.errors import MlkubeError

KEYS = [
    "server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify",
    "tls-server-name", "proxy-url", "disable-compression", "extensions", "client-certificate",
    "client-certificate-data", "client-key", "client-key-data", "token", "tokenFile", "as",
    "as-groups", "as-uid", "as-user-extra", "exec", "auth-provider", "username", "password",
    "apiVersion", "command", "args", "env", "interactiveMode", "provideClusterInfo", "name",
    "cluster", "user", "namespace", "clusters", "users", "contexts", "current-context",
]  # fmt: skip

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(["c", "u", "x", "./p", "/", "https://h:1", "bm90"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)

VALID: dict[str, Any] = {
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1",
                                           "insecure-skip-tls-verify": True}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "n"}}],
    "current-context": "c",
}  # fmt: skip
SLOTS = [
    ("clusters", 0, "cluster"), ("users", 0, "user"), ("contexts", 0, "context"),
    ("clusters", 0), ("users", 0), ("contexts", 0), (),
]  # fmt: skip


def _check(path: Path) -> None:
    try:
        tls_context(load_connection(str(path)))
    except MlkubeError as exc:
        assert "\n" not in str(exc)


FUZZ = settings(
    max_examples=120, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip


@FUZZ
@given(slot=st.sampled_from(SLOTS), key=st.sampled_from(KEYS), value=values)
@example(slot=("clusters", 0, "cluster"), key="certificate-authority-data", value=5)
@example(slot=("users", 0, "user"), key="exec", value={"command": 0})
@example(slot=("users", 0, "user"), key="as-user-extra", value={"x": 5})
def test_a_mutated_kubeconfig_never_crashes(
    tmp_path: Path, slot: tuple[str | int, ...], key: str, value: Any
) -> None:
    doc: Any = yaml.safe_load(yaml.safe_dump(VALID))
    target = doc
    for step in slot:
        target = target[step]
    target[key] = value
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    _check(path)


@FUZZ
@given(top=values)
def test_any_yaml_document_never_crashes(tmp_path: Path, top: Any) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(top))
    _check(path)


@FUZZ
@given(raw=st.binary(max_size=200))
@example(raw=b"\xff\xfe" + "clusters: 5".encode("utf-16-le"))
@example(raw=b"a: !!binary abc\n")
def test_any_bytes_never_crash(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "config"
    path.write_bytes(raw)
    _check(path)
