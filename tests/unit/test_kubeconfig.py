"""kubeconfig loading as kubectl does it: merge rules, overrides, refusals with lines.

The kubeconfigs are shaped after what the clouds write: `aws eks update-kubeconfig`,
`gcloud container clusters get-credentials` (gke-gcloud-auth-plugin) and
`az aks get-credentials` + `kubelogin convert-kubeconfig`; the merge rules are
client-go's (staging/src/k8s.io/client-go/tools/clientcmd/loader.go, "the first file
to set a particular map key wins").
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.cli import kubeopts
from mlkube.cluster.auth import ClusterAuth, client_options, impersonation_headers, tls_context
from mlkube.cluster.kubeconfig import (
    Impersonation,
    Overrides,
    load_connection,
)
from mlkube.errors import InputError, MlkubeError, UsageError
from mlkube.localcluster.pki import Pki
from mlkube.localcluster.pki import ensure as ensure_pki

from ..conftest import Run


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return ensure_pki(tmp_path_factory.mktemp("pki"))


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write(path: Path, config: dict[str, Any] | str) -> Path:
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path


def config(
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
    current: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    for key, what, items in (("clusters", "cluster", clusters), ("users", "user", users),
                             ("contexts", "context", contexts)):  # fmt: skip
        if items is not None:
            doc[key] = [{"name": n, what: v} for n, v in items.items()]
    if current:
        doc["current-context"] = current
    return doc


SERVER = {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}


# Merging several files ------------------------------------------------------------------


def test_merged_files_first_definition_and_first_current_context_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = write(tmp_path / "one", config(
        clusters={"prod": {"server": "https://one.example:443", "insecure-skip-tls-verify": True}},
        contexts={"prod": {"cluster": "prod", "user": "alice", "namespace": "ml"}},
    ))  # fmt: skip
    two = write(tmp_path / "two", config(
        clusters={"prod": {"server": "https://two.example:443"}, "dev": SERVER},
        users={"alice": {"token": "from-two"}},
        contexts={"prod": {"cluster": "dev", "user": "bob"}},
        current="prod",
    ))  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", f"{one}:{tmp_path / 'missing'}:{two}")
    c = load_connection()
    assert c.context == "prod"  # current-context from the only file that sets one
    assert c.server == "https://one.example:443"  # file one's cluster, not two's
    assert c.namespace == "ml"  # file one's context as a whole
    assert c.token == "from-two"  # a user only file two defines


def test_the_order_of_kubeconfig_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write(tmp_path / "a", config(clusters={"c": {**SERVER, "server": "https://a:1"}},
                                     contexts={"x": {"cluster": "c"}}, current="x"))  # fmt: skip
    b = write(tmp_path / "b", config(clusters={"c": {**SERVER, "server": "https://b:1"}},
                                     contexts={"x": {"cluster": "c"}}, current="x"))  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", f"{b}:{a}")
    assert load_connection().server == "https://b:1"
    monkeypatch.setenv("KUBECONFIG", f"{a}:{b}")
    assert load_connection().server == "https://a:1"


def test_relative_paths_resolve_against_the_file_that_holds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: Pki
) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "u" / "certs").mkdir(parents=True)
    (tmp_path / "c" / "ca.crt").write_bytes(pki.ca.read_bytes())
    for name in ("admin.crt", "admin.key"):
        (tmp_path / "u" / "certs" / name).write_bytes(pki.path(name).read_bytes())
    (tmp_path / "u" / "token").write_text("t")
    clusters = write(tmp_path / "c" / "config", config(
        clusters={"k": {"server": "https://127.0.0.1:6443", "certificate-authority": "ca.crt"}},
        contexts={"k": {"cluster": "k", "user": "admin"}}, current="k",
    ))  # fmt: skip
    users = write(tmp_path / "u" / "config", config(users={
        "admin": {"client-certificate": "certs/admin.crt", "client-key": "certs/admin.key"},
        "sa": {"tokenFile": "token"},
    }))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", "c/config:u/config")
    c = load_connection()
    assert c.ca_file == str((tmp_path / "c" / "ca.crt").absolute())
    assert c.cert_file == str((tmp_path / "u" / "certs" / "admin.crt").absolute())
    assert c.key_file == str((tmp_path / "u" / "certs" / "admin.key").absolute())
    tls_context(c)  # the pair loads
    sa = load_connection(overrides=Overrides(user="sa"))
    assert sa.token_file == str((tmp_path / "u" / "token").absolute())
    assert clusters.exists() and users.exists()


def test_an_explicit_kubeconfig_is_not_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = write(tmp_path / "env", config(users={"u": {"token": "env"}}))
    mine = write(tmp_path / "mine", config(
        clusters={"c": SERVER}, contexts={"c": {"cluster": "c", "user": "u"}}, current="c"
    ))  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(env))
    with pytest.raises(UsageError, match="no user named 'u'"):
        load_connection(str(mine))
    with pytest.raises(UsageError, match="no such kubeconfig file"):
        load_connection(str(tmp_path / "absent"))


def test_kubeconfig_files_that_all_do_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    with pytest.raises(UsageError, match="does not exist"):
        load_connection()


# Overrides ------------------------------------------------------------------------------


@pytest.fixture
def two_clusters(tmp_path: Path) -> Path:
    return write(tmp_path / "config", config(
        clusters={"a": {**SERVER, "server": "https://a:1"}, "b": {**SERVER, "server": "https://b:1"}},
        users={"ua": {"token": "ta", "as": "jane", "as-groups": ["g1", "g2"]},
               "ub": {"token": "tb"}},
        contexts={"ca": {"cluster": "a", "user": "ua", "namespace": "na"},
                  "cb": {"cluster": "b", "user": "ub"}},
        current="ca",
    ))  # fmt: skip


def test_overrides_as_kubectl(two_clusters: Path) -> None:
    path = str(two_clusters)
    base = load_connection(path)
    assert (base.server, base.token, base.namespace) == ("https://a:1", "ta", "na")
    assert base.impersonate == Impersonation(user="jane", groups=("g1", "g2"))
    other = load_connection(path, "cb")
    assert (other.server, other.token, other.namespace) == ("https://b:1", "tb", "default")
    mixed = load_connection(path, overrides=Overrides(cluster="b", user="ub", namespace="x"))
    assert (mixed.server, mixed.token, mixed.namespace, mixed.context) == (
        "https://b:1", "tb", "x", "ca"
    )  # fmt: skip
    flagged = load_connection(path, overrides=Overrides(impersonate=Impersonation(user="sre")))
    assert flagged.impersonate == Impersonation(user="sre")  # --as replaces the kubeconfig's
    with pytest.raises(UsageError, match="no context named 'nope'"):
        load_connection(path, "nope")
    with pytest.raises(UsageError, match="no cluster named 'zz'"):
        load_connection(path, overrides=Overrides(cluster="zz"))


def test_impersonation_headers(tmp_path: Path) -> None:
    path = write(tmp_path / "c", config(
        clusters={"c": SERVER},
        users={"u": {"token": "t", "as": "jane", "as-uid": "42", "as-groups": ["dev", "ops"],
                     "as-user-extra": {"reason": ["on call"], "acme.com/project": ["p1"]}}},
        contexts={"c": {"cluster": "c", "user": "u"}}, current="c",
    ))  # fmt: skip
    headers = impersonation_headers(load_connection(str(path)))
    assert sorted(headers) == [
        ("Impersonate-Extra-acme.com%2Fproject", "p1"),
        ("Impersonate-Extra-reason", "on call"),
        ("Impersonate-Group", "dev"),
        ("Impersonate-Group", "ops"),
        ("Impersonate-Uid", "42"),
        ("Impersonate-User", "jane"),
    ]


def test_cli_flags_reach_the_connection(two_clusters: Path) -> None:
    parser = argparse.ArgumentParser()
    kubeopts.add(parser)
    args = parser.parse_args(
        ["--kubeconfig", str(two_clusters), "--context", "cb", "--user", "ua", "-n", "z",
         "--as", "x", "--as-group", "g", "--as-group", "h", "--as-uid", "7"]
    )  # fmt: skip
    o = kubeopts.overrides(args)
    c = load_connection(args.kubeconfig, overrides=o)
    assert (c.server, c.token, c.namespace) == ("https://b:1", "ta", "z")
    assert c.impersonate == Impersonation(user="x", uid="7", groups=("g", "h"))


# What the clouds write --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "replacement"),
    [("gcp", "gke-gcloud-auth-plugin"), ("azure", "kubelogin"), ("oidc", "oidc-login"),
     ("acme", "exec credential plugin")],
)  # fmt: skip
def test_legacy_auth_provider_names_its_replacement(
    tmp_path: Path, provider: str, replacement: str
) -> None:
    # The pre-1.26 `gcloud container clusters get-credentials` user block.
    path = write(tmp_path / "c", config(
        clusters={"c": SERVER},
        users={"u": {"auth-provider": {"name": provider, "config": {"cmd-path": "gcloud"}}}},
        contexts={"c": {"cluster": "c", "user": "u"}}, current="c",
    ))  # fmt: skip
    with pytest.raises(InputError, match=replacement) as info:
        load_connection(str(path))
    assert info.value.line == path.read_text().splitlines().index("    auth-provider:") + 1


def test_an_exec_user_as_aws_eks_writes_it(tmp_path: Path, pki: Pki) -> None:
    # `aws eks update-kubeconfig` output (aws-cli awscli/customizations/eks/update_kubeconfig.py)
    path = write(tmp_path / "c", textwrap.dedent(f"""\
        apiVersion: v1
        clusters:
        - cluster:
            certificate-authority-data: {b64(pki.ca)}
            server: https://ABCD.gr7.us-west-2.eks.amazonaws.com
            extensions:
            - name: client.authentication.k8s.io/exec
              extension: {{audience: sts}}
          name: arn:aws:eks:us-west-2:111122223333:cluster/ml
        contexts:
        - context:
            cluster: arn:aws:eks:us-west-2:111122223333:cluster/ml
            user: arn:aws:eks:us-west-2:111122223333:cluster/ml
          name: arn:aws:eks:us-west-2:111122223333:cluster/ml
        current-context: arn:aws:eks:us-west-2:111122223333:cluster/ml
        kind: Config
        users:
        - name: arn:aws:eks:us-west-2:111122223333:cluster/ml
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1beta1
              args: [--region, us-west-2, eks, get-token, --cluster-name, ml, --output, json]
              command: aws
              env:
              - {{name: AWS_PROFILE, value: ml}}
              provideClusterInfo: true
        """))  # fmt: skip
    c = load_connection(str(path))
    assert c.exec is not None
    assert c.exec.command == "aws"  # a bare name: looked up in PATH when run
    assert c.exec.interactive_mode == "IfAvailable"  # v1beta1's default
    assert c.exec.env == (("AWS_PROFILE", "ml"),)
    assert c.exec.cluster_info is not None
    info = json.loads(c.exec.cluster_info)
    assert info["server"] == "https://ABCD.gr7.us-west-2.eks.amazonaws.com"
    assert base64.b64decode(info["certificate-authority-data"]) == pki.ca.read_bytes()
    assert info["config"] == {"audience": "sts"}
    assert c.ca_data == pki.ca.read_bytes()


def test_exec_v1_requires_interactive_mode_and_a_known_version(tmp_path: Path) -> None:
    def user(exec_: dict[str, Any]) -> Path:
        return write(tmp_path / "c", config(
            clusters={"c": SERVER}, users={"u": {"exec": exec_}},
            contexts={"c": {"cluster": "c", "user": "u"}}, current="c",
        ))  # fmt: skip

    v1 = {"apiVersion": "client.authentication.k8s.io/v1", "command": "kubelogin"}
    with pytest.raises(InputError, match="interactiveMode: required"):
        load_connection(str(user(v1)))
    assert load_connection(str(user({**v1, "interactiveMode": "Never"}))).exec is not None
    with pytest.raises(InputError, match="runs exec plugins of"):
        load_connection(str(user({**v1, "apiVersion": "client.authentication.k8s.io/v1alpha1"})))
    with pytest.raises(InputError, match="'Sometimes'"):
        load_connection(str(user({**v1, "interactiveMode": "Sometimes"})))
    relative = load_connection(str(user({**v1, "interactiveMode": "Never", "command": "./bin/p"})))
    assert relative.exec is not None and relative.exec.command == str(tmp_path / "bin" / "p")


def test_explicit_credentials_win_over_exec(tmp_path: Path) -> None:
    """client-go: a token in the kubeconfig (or --token) means the exec plugin is not run."""
    path = write(tmp_path / "c", config(
        clusters={"c": SERVER},
        users={"u": {"token": "t", "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                            "command": "aws"}}},
        contexts={"c": {"cluster": "c", "user": "u"}}, current="c",
    ))  # fmt: skip
    assert load_connection(str(path)).exec is None


def test_cluster_options(tmp_path: Path, pki: Pki) -> None:
    path = write(tmp_path / "c", config(
        clusters={"c": {"server": "https://10.0.0.1:6443/",
                        "certificate-authority-data": b64(pki.ca),
                        "tls-server-name": "kubernetes.default", "proxy-url": "socks5://127.0.0.1:1080",
                        "disable-compression": True}},
        contexts={"c": {"cluster": "c"}}, current="c",
    ))  # fmt: skip
    c = load_connection(str(path))
    assert (c.server, c.tls_server_name, c.proxy_url, c.disable_compression) == (
        "https://10.0.0.1:6443", "kubernetes.default", "socks5://127.0.0.1:1080", True
    )  # fmt: skip
    bad = write(tmp_path / "d", path.read_text().replace("socks5://", "ftp://"))
    with pytest.raises(InputError, match="http, https or socks5"):
        load_connection(str(bad))


# Hostile kubeconfigs (issue 14): one line with file and line, exit 2 ------------------


def _user_with(key: str, value: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        clusters:
        - name: c
          cluster:
            server: https://127.0.0.1:6443
            insecure-skip-tls-verify: true
        users:
        - name: u
          user:
            {key}: {value}
        contexts:
        - name: c
          context: {{cluster: c, user: u}}
        current-context: c
        """)


def _cluster_with(key: str, value: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        clusters:
        - name: c
          cluster:
            server: https://127.0.0.1:6443
            {key}: {value}
        contexts:
        - name: c
          context: {{cluster: c}}
        current-context: c
        """)


HOSTILE: dict[str, tuple[bytes, int | None, str]] = {
    # name: (file content, line or None when any line is right, what the message says)
    "top-level string": (b"just a string\n", 1, "top level is a string"),
    "top-level list": (b"- a\n- b\n", 1, "top level is a list"),
    "binary": (b"\x7fELF\x02\x01\x01\x00\x00\x00" * 20, 1, "binary"),
    "utf-16": ("apiVersion: v1\nclusters: 5\n".encode("utf-16"), None, ""),
    "float tag": (b"clusters:\n- name: c\n  cluster: !!float x\n", 3, "as a !!float"),
    "clusters not a list": (b"clusters: {a: 1}\n", 1, "expected a list"),
    "cluster not a mapping": (b"clusters:\n- name: c\n  cluster: 5\n", 3, "expected a mapping"),
    "nameless": (b"users:\n- user: {}\n", 2, "name: expected a non-empty string"),
    "duplicate": (b"users:\n- {name: u}\n- {name: u}\n", 3, "duplicate name 'u'"),
    "bad base64": (
        _cluster_with("certificate-authority-data", "'@@@not base64'").encode(),
        6,
        "not valid base64",
    ),
    "int data": (_user_with("client-key-data", "5").encode(), 10, "expected base64 text"),
    "ca is a number": (
        _cluster_with("certificate-authority", "5").encode(),
        6,
        "expected a string",
    ),
    "missing ca file": (
        _cluster_with("certificate-authority", "/nonexistent/ca.crt").encode(),
        6,
        "no such file",
    ),
    "ca not pem": (
        _cluster_with("certificate-authority-data", base64.b64encode(b"hello").decode()).encode(),
        6,
        "not a PEM certificate authority",
    ),
    "key not pem": (
        _user_with("client-key-data", base64.b64encode(b"x").decode()).encode(),
        10,
        "not a PEM",
    ),
    "insecure is a string": (
        _cluster_with("disable-compression", "'yes'").encode(),
        6,
        "expected true or false",
    ),
    "token a list": (_user_with("token", "[a]").encode(), 10, "expected a string"),
    "current-context a list": (b"current-context: [a]\n", 1, "current-context"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_kubeconfig_is_one_located_error(tmp_path: Path, name: str) -> None:
    content, line, says = HOSTILE[name]
    path = tmp_path / "config"
    path.write_bytes(content)
    with pytest.raises(MlkubeError) as info:
        c = load_connection(str(path))
        tls_context(c)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    assert "\n" not in message
    assert says in message
    if line is not None:
        assert isinstance(info.value, InputError) and info.value.line == line, message


def test_a_ca_file_that_is_not_pem(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("not a certificate\n")
    path = write(tmp_path / "config", _cluster_with("certificate-authority", "ca.crt"))
    with pytest.raises(InputError, match="not a PEM certificate authority") as info:
        load_connection(str(path))
    assert info.value.line == 6


def test_a_key_that_does_not_match_its_certificate(tmp_path: Path, pki: Pki) -> None:
    other = ensure_pki(tmp_path / "other")
    text = _user_with("client-certificate-data", b64(pki.path("admin.crt"))) + ""
    text = text.replace(
        "client-certificate-data:",
        f"client-key-data: {b64(other.path('admin.key'))}\n    client-certificate-data:",
    )
    path = write(tmp_path / "config", text)
    with pytest.raises(InputError, match="cannot be used together") as info:
        tls_context(load_connection(str(path)))
    assert info.value.line == 10  # the client-key-data line


@pytest.mark.parametrize("name", ["top-level list", "bad base64", "ca not pem", "utf-16"])
def test_hostile_kubeconfig_through_the_cli(tmp_path: Path, mlkube: Run, name: str) -> None:
    path = tmp_path / "config"
    path.write_bytes(HOSTILE[name][0])
    result = mlkube("doctor", "--kubeconfig", str(path))
    assert result.code == 2, result.err
    assert result.err.startswith(f"mlkube: {path}:"), result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


# Inline material stays in memory ---------------------------------------------------------


def test_inline_key_data_never_reaches_the_disk(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setenv("TMPDIR", str(spill))
    monkeypatch.setattr(tempfile, "tempdir", None)  # recomputed from TMPDIR
    path = write(tmp_path / "config", config(
        clusters={"c": {"server": "https://127.0.0.1:6443",
                        "certificate-authority-data": b64(pki.ca)}},
        users={"u": {"client-certificate-data": b64(pki.path("admin.crt")),
                     "client-key-data": b64(pki.path("admin.key"))}},
        contexts={"c": {"cluster": "c", "user": "u"}}, current="c",
    ))  # fmt: skip
    assert tempfile.gettempdir() == str(spill)  # the premise: a spill would land here
    c = load_connection(str(path))
    context = tls_context(c)
    assert context.verify_mode.name == "CERT_REQUIRED"
    assert list(spill.iterdir()) == []
    assert c.key_data == pki.path("admin.key").read_bytes()


def test_client_options_carry_the_cluster_settings(tmp_path: Path, pki: Pki) -> None:
    path = write(tmp_path / "c", config(
        clusters={"c": {"server": "https://10.0.0.1:6443",
                        "certificate-authority-data": b64(pki.ca),
                        "tls-server-name": "kubernetes.default",
                        "proxy-url": "http://proxy.corp:3128", "disable-compression": True}},
        users={"u": {"username": "admin", "password": "s3cret"}},
        contexts={"c": {"cluster": "c", "user": "u"}}, current="c",
    ))  # fmt: skip
    options = client_options(load_connection(str(path)))
    assert options["proxy"] == "http://proxy.corp:3128"
    assert ("Accept-Encoding", "identity") in options["headers"]
    assert ("Authorization", "Basic YWRtaW46czNjcmV0") in options["headers"]
    assert isinstance(options["auth"], ClusterAuth) and options["auth"].server_name == (
        "kubernetes.default"
    )  # fmt: skip
    plain = write(tmp_path / "d", config(
        clusters={"c": SERVER}, contexts={"c": {"cluster": "c"}}, current="c"
    ))  # fmt: skip
    bare = client_options(load_connection(str(plain)))
    assert bare["auth"] is None and "proxy" not in bare and bare["headers"] == []
