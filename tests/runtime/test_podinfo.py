"""The downwardAPI annotations file: Go quoting, the kubelet's symlink swap, cheap polls."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlkube.localcluster.binaries import locate
from mlkube.runtime.podinfo import (
    REQUEST_ANNOTATION,
    AnnotationsFile,
    RequestWatcher,
    parse_annotations,
    unquote_go,
)

from .kubelet import go_quote, project, real_project


@pytest.mark.parametrize(
    ("quoted", "value"),
    [
        (r'""', ""),
        (r'"n-1a2b3c4d-5e6f"', "n-1a2b3c4d-5e6f"),
        (r'"say \"hi\"\\now"', 'say "hi"\\now'),
        (r'"a\nb\tc\r\a\b\f\v"', "a\nb\tc\r\a\b\f\v"),
        (r'"caf\u00e9 \U0001f600"', "café 😀"),
        (r'"café"', "café"),  # strconv.Quote keeps printable non-ASCII as is
        (r'"\x41\101"', "AA"),
        (r'"\xe2\x82\xac"', "€"),  # bytes of one UTF-8 character
    ],
)
def test_unquote_go(quoted: str, value: str) -> None:
    assert unquote_go(quoted) == value


@pytest.mark.parametrize(
    "quoted", ['abc', '"abc', '"a"b"', '"\\"', r'"\q"', r'"\u12"', r'"\ud800"', r'"\400"']
)  # fmt: skip
def test_unquote_go_refuses_what_quote_cannot_write(quoted: str) -> None:
    with pytest.raises(ValueError):
        unquote_go(quoted)


def test_quote_round_trip() -> None:
    value = 'line1\nline2\t"quoted" \\ é \x01 \u2028 😀'
    assert unquote_go(go_quote(value)) == value


def test_parse_annotations_file_format() -> None:
    text = (
        'kubectl.kubernetes.io/last-applied-configuration="{\\"a\\":1}\\n"\n'
        'mlkube.dev/checkpoint-request="n-1a2b3c4d-5e6f"\n'
        "not a line\n"
        'broken="unterminated\n'
        'x/y="a=b"\n'
    )
    assert parse_annotations(text) == {
        "kubectl.kubernetes.io/last-applied-configuration": '{"a":1}\n',
        REQUEST_ANNOTATION: "n-1a2b3c4d-5e6f",
        "x/y": "a=b",
    }


def test_missing_file_means_no_request(tmp_path: Path) -> None:
    assert RequestWatcher(tmp_path / "absent").current() is None
    assert AnnotationsFile(tmp_path / "absent" / "annotations").read() == {}


def test_watcher_follows_the_kubelet_symlink_swap(tmp_path: Path) -> None:
    watcher = RequestWatcher(tmp_path)
    project(tmp_path, {"other": "x"})
    assert watcher.current() is None
    project(tmp_path, {"other": "x", REQUEST_ANNOTATION: "r-0123456789ab"})
    assert watcher.current() == "r-0123456789ab"
    project(tmp_path, {REQUEST_ANNOTATION: "r-ba9876543210"})
    assert watcher.current() == "r-ba9876543210"
    project(tmp_path, {})
    assert watcher.current() is None


def test_unchanged_file_is_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, {REQUEST_ANNOTATION: "r-1"})
    file = AnnotationsFile(tmp_path / "annotations")
    reads = []
    real = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    for _ in range(100):
        assert file.read() == {REQUEST_ANNOTATION: "r-1"}
    assert len(reads) == 1
    project(tmp_path, {REQUEST_ANNOTATION: "r-2"})
    assert file.read() == {REQUEST_ANNOTATION: "r-2"}
    assert len(reads) == 2


def test_ids_outside_the_contract_are_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project(tmp_path, {REQUEST_ANNOTATION: "Not An Id!"})
    watcher = RequestWatcher(tmp_path)
    assert watcher.current() is None
    assert watcher.current() is None
    assert sum("not a request id" in r.message for r in caplog.records) == 1


@pytest.fixture(scope="module")
def kubelet_writer() -> Path:
    """The kubelet's own downwardAPI writer (built with the cluster's binaries)."""
    found = locate(("kubelet-writer",))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tools/kubelet-writer is not built: run tools/build.sh kubelet-writer")
        pytest.skip("tools/kubelet-writer is not built yet (tools/build.sh kubelet-writer)")
    return Path(found["atomic-writer"])


# Values the Go quoting must survive: quotes, backslashes, control characters, non-ASCII
# (printable and not), and a request id as the controller writes it.
TRICKY = [
    {},
    {REQUEST_ANNOTATION: "r-0123456789ab"},
    {"a": 'say "hi"\\now', "b": "line1\nline2\ttab\r\x01\x7f", "c": "café 😀 \u2028 \ufeff"},
    {"kubectl.kubernetes.io/last-applied-configuration": '{"a":1}\n', "z/y": "a=b"},
]


@pytest.mark.parametrize("annotations", TRICKY)
def test_the_kubelets_own_writer_is_read_back_exactly(
    kubelet_writer: Path, tmp_path: Path, annotations: dict[str, str]
) -> None:
    real_project(kubelet_writer, tmp_path, annotations)
    assert AnnotationsFile(tmp_path / "annotations").read() == annotations


@pytest.mark.parametrize("annotations", TRICKY)
def test_the_port_writes_what_the_kubelet_writes(
    kubelet_writer: Path, tmp_path: Path, annotations: dict[str, str]
) -> None:
    real, port = tmp_path / "real", tmp_path / "port"
    real_project(kubelet_writer, real, annotations)
    project(port, annotations)
    assert (port / "annotations").read_bytes() == (real / "annotations").read_bytes()
    for root in (real, port):  # the layout: user file -> ..data/annotations -> ..<stamp>/
        assert os.readlink(root / "annotations") == "..data/annotations"
        assert os.readlink(root / "..data").startswith("..")
        assert sorted(p.name for p in root.iterdir() if not p.is_symlink()) == [
            os.readlink(root / "..data")
        ]


def test_watcher_follows_the_kubelets_own_symlink_swap(
    kubelet_writer: Path, tmp_path: Path
) -> None:
    watcher = RequestWatcher(tmp_path)
    real_project(kubelet_writer, tmp_path, {"other": "x"})
    assert watcher.current() is None
    real_project(kubelet_writer, tmp_path, {"other": "x", REQUEST_ANNOTATION: "r-0123456789ab"})
    assert watcher.current() == "r-0123456789ab"
    real_project(kubelet_writer, tmp_path, {REQUEST_ANNOTATION: "r-ba9876543210"})
    assert watcher.current() == "r-ba9876543210"
    real_project(kubelet_writer, tmp_path, {})
    assert watcher.current() is None
    stamped = [p for p in tmp_path.iterdir() if not p.is_symlink()]
    assert len(stamped) == 1  # the kubelet removed every earlier version
