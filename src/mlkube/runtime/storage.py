"""Where checkpoints are kept: a directory (a shared volume) or an S3 prefix.

A store has one promise that the checkpoint protocol builds on: ``put`` is atomic, so
a reader sees a whole object or no object under its name. A directory keeps it with
write-to-temporary, fsync, rename, fsync of the directory; S3 keeps it per PUT.
Everything here is plain bytes: no torch.
"""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path
from typing import Any, Protocol

from mlkube.fileio import write_atomic
from mlkube.runtime.errors import CheckpointConfigError, CheckpointStoreError

_TMP = re.compile(r"\.tmp-\d+$")


class Store(Protocol):
    """A flat namespace of immutable-once-written objects."""

    @property
    def location(self) -> str:
        """For messages: the directory or URI."""
        ...

    def put(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name`` atomically, durable when it returns."""
        ...

    def get(self, name: str) -> bytes:
        """The object's bytes; FileNotFoundError if there is none."""
        ...

    def names(self) -> list[str]:
        """The complete objects, sorted; never the leftovers of an interrupted ``put``."""
        ...

    def delete(self, name: str) -> None:
        """Remove ``name``; a missing one is fine."""
        ...

    def clean_partial(self) -> list[str]:
        """Remove the leftovers of interrupted writes; returns what it removed."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class LocalStore:
    """A directory, typically a ReadWriteMany volume every rank mounts."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not str(path):
            raise CheckpointConfigError("an empty checkpoint directory: give a path")
        try:
            is_dir = stat.S_ISDIR(os.stat(self.path).st_mode)
        except FileNotFoundError:
            is_dir = True  # made by the first put
        except (OSError, ValueError) as exc:  # ENOTDIR, ELOOP, EACCES; a NUL byte
            detail = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise CheckpointConfigError(
                f"{path}: cannot be a checkpoint directory: {detail}"
            ) from None
        if not is_dir:
            raise CheckpointConfigError(f"{path}: not a directory, cannot hold checkpoints")

    @property
    def location(self) -> str:
        return str(self.path)

    def put(self, name: str, data: bytes) -> None:
        target = self.path / name
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            # Durable: the bytes, then the rename, on disk before put returns.
            write_atomic(target, data, durable=True, tmp=self.path / f"{name}.tmp-{os.getpid()}")
        except OSError as exc:
            raise CheckpointStoreError(f"{target}: {exc.strerror or exc}") from exc

    def get(self, name: str) -> bytes:
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise CheckpointStoreError(f"{self.path / name}: {exc.strerror or exc}") from exc

    def names(self) -> list[str]:
        try:
            entries = list(os.scandir(self.path))
            files = [e.name for e in entries if e.is_file() and not _TMP.search(e.name)]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise CheckpointStoreError(f"{self.path}: {exc.strerror or exc}") from exc
        return sorted(files)

    def delete(self, name: str) -> None:
        try:
            (self.path / name).unlink(missing_ok=True)
        except OSError as exc:
            raise CheckpointStoreError(f"{self.path / name}: {exc.strerror or exc}") from exc

    def clean_partial(self) -> list[str]:
        try:
            leftovers = sorted(p.name for p in self.path.iterdir() if _TMP.search(p.name))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise CheckpointStoreError(f"{self.path}: {exc.strerror or exc}") from exc
        for name in leftovers:
            (self.path / name).unlink(missing_ok=True)
        return leftovers

    def close(self) -> None:
        pass


class S3Store:
    """``s3://bucket/prefix``; boto3 finds credentials, region and ``AWS_ENDPOINT_URL``."""

    def __init__(self, uri: str, client: Any = None) -> None:
        if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
            raise CheckpointConfigError(f"{uri}: not an s3://bucket/prefix URI")
        self.uri = uri.rstrip("/")
        bucket, _, prefix = uri[5:].partition("/")
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        if client is None:
            try:
                import boto3  # noqa: PLC0415 - only jobs that checkpoint to S3 need it
            except ImportError as exc:
                raise CheckpointConfigError(
                    f"{uri}: S3 checkpoints need boto3 (pip install 'mlkube[s3]')"
                ) from exc
            try:
                client = boto3.client("s3")
            except Exception as exc:  # region, endpoint or profile that botocore refuses
                raise CheckpointConfigError(f"{uri}: cannot make an S3 client: {exc}") from exc
        self._client = client

    @property
    def location(self) -> str:
        return self.uri

    def put(self, name: str, data: bytes) -> None:
        # Multipart above the threshold; the object appears only when the upload completes.
        self._call("upload_fileobj", name, io.BytesIO(data), self.bucket, self.prefix + name)

    def get(self, name: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + name)
            body: bytes = response["Body"].read()
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(f"{self.uri}/{name}") from exc
            raise CheckpointStoreError(f"{self.uri}/{name}: {exc}") from exc
        return body

    def names(self) -> list[str]:
        found: list[str] = []
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = str(item["Key"])[len(self.prefix) :]
                    if name and "/" not in name:
                        found.append(name)
        except Exception as exc:
            raise CheckpointStoreError(f"{self.uri}: {exc}") from exc
        return sorted(found)

    def delete(self, name: str) -> None:
        self._call("delete_object", name, Bucket=self.bucket, Key=self.prefix + name)

    def clean_partial(self) -> list[str]:
        # Nothing to see: an interrupted PUT leaves no object. An interrupted multipart
        # upload leaves invisible parts; a bucket lifecycle rule aborts those.
        return []

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, method)(*args, **kwargs)
        except Exception as exc:
            raise CheckpointStoreError(f"{self.uri}/{name}: {exc}") from exc


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def open_store(*, dir: str | os.PathLike[str] | None = None, uri: str | None = None) -> Store:
    """The store for a volume path or an object-store URI (exactly one of them)."""
    if dir is not None and uri is None:
        return LocalStore(dir)
    if uri is None or dir is not None:
        raise CheckpointConfigError("give exactly one checkpoint location: a directory or a URI")
    if uri.startswith("file://"):
        return LocalStore(uri[len("file://") :])
    if uri.startswith("s3://"):
        return S3Store(uri)
    scheme = uri.split("://", 1)[0] if "://" in uri else uri
    raise CheckpointConfigError(
        f"{scheme}:// checkpoints are not supported by mlkube.runtime: use s3:// "
        "(with AWS_ENDPOINT_URL for S3-compatible stores) or a mounted volume"
    )
