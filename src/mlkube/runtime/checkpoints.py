"""The checkpoint protocol over a store: write data then manifest, resume from the newest
checkpoint that verifies, keep the last K. Bytes only; torch-free.

    step-000000001200.ckpt   the serialized state
    step-000000001200.json   its manifest (step, size, sha256, time, requests), written last
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from mlkube.runtime.errors import CorruptCheckpointError
from mlkube.runtime.manifest import Manifest, data_name, manifest_name, parse_name
from mlkube.runtime.storage import Store

log = logging.getLogger(__name__)


def write(
    store: Store,
    step: int,
    data: bytes,
    *,
    requests: Sequence[str] = (),
    world_size: int = 1,
) -> Manifest:
    """Make ``data`` the checkpoint of ``step``: it exists once this returns, not before."""
    if step < 0:
        raise ValueError(f"step {step} is negative")
    manifest = Manifest(
        step=step,
        data=data_name(step),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        time=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        requests=tuple(requests),
        world_size=world_size,
    )
    # A manifest left from an earlier run at this step must not vouch for the new data
    # while it is being replaced.
    store.delete(manifest_name(step))
    store.put(manifest.data, data)
    store.put(manifest_name(step), manifest.to_json())
    return manifest


def steps(store: Store) -> list[int]:
    """The steps that have a manifest, newest first."""
    return _steps(store.names(), "json")


def _steps(names: Sequence[str], kind: str) -> list[int]:
    found = {p[0] for p in map(parse_name, names) if p is not None and p[1] == kind}
    return sorted(found, reverse=True)


def read(store: Store, step: int) -> tuple[Manifest, bytes]:
    """The checkpoint of ``step`` with its data, verified against the manifest."""
    try:
        manifest = Manifest.from_json(store.get(manifest_name(step)))
    except FileNotFoundError as exc:
        raise CorruptCheckpointError(f"step {step}: no manifest (an interrupted write)") from exc
    except ValueError as exc:
        raise CorruptCheckpointError(f"step {step}: {exc}") from exc
    if manifest.step != step:
        raise CorruptCheckpointError(f"step {step}: manifest is for step {manifest.step}")
    try:
        data = store.get(manifest.data)
    except FileNotFoundError as exc:
        raise CorruptCheckpointError(f"step {step}: {manifest.data} is missing") from exc
    if len(data) != manifest.size:
        raise CorruptCheckpointError(
            f"step {step}: {manifest.data} has {len(data)} bytes, the manifest says {manifest.size}"
        )
    if hashlib.sha256(data).hexdigest() != manifest.sha256:
        raise CorruptCheckpointError(f"step {step}: {manifest.data} does not match its sha256")
    return manifest, data


def newest(store: Store) -> tuple[Manifest, bytes] | None:
    """The newest checkpoint that verifies; each one passed over is logged, with why."""
    names = store.names()
    manifests, data = _steps(names, "json"), _steps(names, "ckpt")
    chosen: tuple[Manifest, bytes] | None = None
    for step in manifests:
        try:
            chosen = read(store, step)
            break
        except CorruptCheckpointError as exc:
            log.warning("skipping checkpoint %s", exc)
    after = chosen[0].step if chosen else -1
    for step in data:
        if step > after and step not in manifests:
            log.warning("ignoring %s: it has no manifest (an interrupted write)", data_name(step))
    if chosen:
        log.info("newest valid checkpoint: step %d in %s", after, store.location)
    return chosen


def prune(store: Store, keep: int) -> list[str]:
    """Delete what is older than the newest ``keep`` checkpoints; returns the names deleted.

    Manifests go before their data, so a half-pruned checkpoint is one resume skips.
    """
    if keep < 1:
        raise ValueError("keep at least one checkpoint")
    kept = steps(store)[:keep]
    if len(kept) < keep:
        return []
    oldest_kept = kept[-1]
    doomed = [
        (step, kind, name)
        for name in store.names()
        if (parsed := parse_name(name)) is not None
        for step, kind in [parsed]
        if step < oldest_kept
    ]
    deleted = []
    for _, _, name in sorted(doomed, key=lambda d: (d[1] != "json", d[0])):
        store.delete(name)
        deleted.append(name)
    return deleted
