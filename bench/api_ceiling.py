"""The API server's own ceiling for a burst of writes: bench/api_ceiling/main.go (Go,
standard library only) sends a list of requests from N goroutines as fast as the server
takes them and reports how long they took. Its client costs the machine almost nothing,
so what it measures is the API server, etcd and every watcher of the objects written
(KWOK, the controller manager, the benchmark's own watches): the time no watcher in
Python or any other language can beat on this machine.

Built once per source version into the cluster binaries' cache (``go build``, seconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster.binaries import cache_root

SOURCE = Path(__file__).with_name("api_ceiling")
MERGE_PATCH = "application/merge-patch+json"


def binary() -> Path:
    digest = hashlib.sha256()
    for name in ("go.mod", "main.go"):
        digest.update((SOURCE / name).read_bytes())
    out = cache_root() / "bin" / f"api-ceiling-{digest.hexdigest()[:12]}" / "api-ceiling"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(".partial")
        env = {**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false"}
        subprocess.run(["go", "build", "-o", str(partial), "."], cwd=SOURCE, env=env, check=True)
        partial.rename(out)
    return out


def pod_patch(namespace: str, name: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "method": "PATCH",
        "path": f"/api/v1/namespaces/{namespace}/pods/{name}",
        "contentType": MERGE_PATCH,
        "body": {"metadata": {"annotations": annotations}},
    }


def eviction(namespace: str, name: str) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": f"/api/v1/namespaces/{namespace}/pods/{name}/eviction",
        "contentType": "application/json",
        "body": {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        },
    }


def run(kubeconfig: str, requests: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    """Send ``requests`` (in order, ``concurrency`` at a time); the tool's summary:
    requests, errors, seconds, perSecond, p50Ms, p99Ms."""
    c = load_connection(kubeconfig)
    if not (c.ca_file and c.cert_file and c.key_file):
        raise SystemExit("api-ceiling needs a kubeconfig with CA, certificate and key files")
    argv = [str(binary()), "-server", c.server, "-ca", c.ca_file, "-cert", c.cert_file,
            "-key", c.key_file, "-concurrency", str(concurrency)]  # fmt: skip
    lines = "".join(json.dumps(r) + "\n" for r in requests)
    done = subprocess.run(argv, input=lines.encode(), capture_output=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result
