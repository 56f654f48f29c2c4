"""The same protocol over S3, against moto's server on 127.0.0.1 (boto3 talks HTTP to it
exactly as to S3, found through AWS_ENDPOINT_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from mlkube.runtime import (
    REQUEST_ANNOTATION,
    Checkpointer,
    CheckpointLoadError,
    CheckpointStoreError,
    S3Store,
    checkpoints,
)
from mlkube.runtime.manifest import data_name, manifest_name

from .jsonstate import Json
from .kubelet import project


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    client = boto3.client("s3")
    client.create_bucket(Bucket="ckpt")
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket="ckpt"):
        for item in page.get("Contents", []):
            client.delete_object(Bucket="ckpt", Key=item["Key"])
    client.delete_bucket(Bucket="ckpt")
    client.close()


def _keys(client: Any) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket="ckpt").get("Contents", [])]


def test_write_resume_prune(s3: Any) -> None:
    store = S3Store("s3://ckpt/jobs/run-1")
    try:
        for step in (1, 2, 3, 4):
            checkpoints.write(store, step, f"state {step}".encode())
        s3.put_object(Bucket="ckpt", Key="jobs/run-1/sub/other", Body=b"not ours")
        s3.put_object(Bucket="ckpt", Key="jobs/run-10/" + manifest_name(99), Body=b"{}")
        assert checkpoints.steps(store) == [4, 3, 2, 1]
        assert checkpoints.prune(store, keep=3) == [manifest_name(1), data_name(1)]
        # A torn object (as from a store without atomic PUT) and a manifest-less one.
        s3.put_object(Bucket="ckpt", Key=f"jobs/run-1/{data_name(4)}", Body=b"state")
        s3.put_object(Bucket="ckpt", Key=f"jobs/run-1/{data_name(5)}", Body=b"state 5")
        found = checkpoints.newest(store)
        assert found is not None
        assert (found[0].step, found[1]) == (3, b"state 3")
        assert "jobs/run-1/sub/other" in _keys(s3)
    finally:
        store.close()


def test_checkpointer_over_s3(s3: Any, tmp_path: Any) -> None:
    env = {"MLKUBE_CHECKPOINT_URI": "s3://ckpt/run", "MLKUBE_PODINFO_DIR": str(tmp_path)}
    with Checkpointer.from_env(env, serializer=Json(), handle_sigterm=False) as ckpt:
        assert ckpt.resume() is None
        project(tmp_path, {REQUEST_ANNOTATION: "r-s3"})
        assert ckpt.step(10, lambda: {"w": [1, 2, 3]})
    with Checkpointer.from_env(env, serializer=Json(), handle_sigterm=False) as again:
        assert again.resume() == {"w": [1, 2, 3]}
        assert again.last_step == 10
        assert not again.step(11, lambda: {"w": [4]})
    assert sorted(_keys(s3)) == ["run/" + data_name(10), "run/" + manifest_name(10)]


def test_unreachable_bucket_is_an_error_not_a_fresh_start(s3: Any) -> None:
    with (
        Checkpointer(uri="s3://no-such-bucket/run", serializer=Json(), podinfo_dir=None) as ckpt,
        pytest.raises(CheckpointLoadError, match="no-such-bucket"),
    ):
        ckpt.resume()
    store = S3Store("s3://no-such-bucket/run")
    with pytest.raises(CheckpointStoreError, match="NoSuchBucket"):
        store.put("x", b"x")
    store.close()
