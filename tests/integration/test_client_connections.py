"""One client used by many threads at once, as the controller's recorders and writers
use it: every connection a burst opened is still there for the next burst, so no
request in it waits for a TLS handshake (httpx keeps only 20 by default)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

from mlkube.cluster.client import Kube

THREADS = 30  # more than httpx's default of 20 kept connections


def _connections_to(port: int) -> set[int]:
    """The local ports of this process's established TCP connections to ``port``."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state == "01" and inode in inodes and int(remote.rsplit(":", 1)[1], 16) == port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def test_a_burst_of_requests_leaves_its_connections_for_the_next(kube: Kube) -> None:
    port = urlparse(kube.connection.server).port
    assert port is not None

    def burst() -> None:
        barrier = threading.Barrier(THREADS)

        def one(_: int) -> None:
            barrier.wait()
            # A watch the server ends after a second, its body complete: each holds a
            # connection for that second, beside the others, then hands it back.
            list(kube.watch("v1", "Namespace", timeout_seconds=1, bookmarks=False))

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(one, range(THREADS)))

    burst()
    first = _connections_to(port)
    assert len(first) >= THREADS
    burst()
    assert _connections_to(port) == first  # none closed, none opened


def test_a_lane_has_connections_of_its_own_counted_and_closed_with_its_client(
    kube: Kube,
) -> None:
    port = urlparse(kube.connection.server).port
    assert port is not None
    client = Kube(kube.connection)
    lane = client.lane()
    before = _connections_to(port)
    barrier = threading.Barrier(5)

    def one(_: int) -> None:
        barrier.wait()
        list(lane.watch("v1", "Namespace", timeout_seconds=1, bookmarks=False))

    with ThreadPoolExecutor(5) as pool:
        list(pool.map(one, range(5)))
    opened = _connections_to(port) - before
    assert len(opened) >= 5  # the lane's: its client has sent nothing
    assert client.stats["requests"] == lane.stats["requests"] >= 5
    client.close()
    assert not opened & _connections_to(port)  # closed with the client
