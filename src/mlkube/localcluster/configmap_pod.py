"""A process that reads its configuration from a ConfigMap, and is restarted when it
changes: what a Deployment whose pod mounts the ConfigMap does on a real cluster when
its chart rolls it on the config's checksum (prometheus-adapter's Helm chart puts
``checksum/config`` on the pod template). The local cluster runs prometheus-adapter
this way, so that its rules are the ConfigMap mlkube renders, as applied to the cluster.

It watches the one ConfigMap, writes the key's text to the file the process reads
(atomically, as the kubelet swaps a projected volume), and starts the process once the
ConfigMap exists (a pod waits for its ConfigMap volume). Each change of that text stops
the process (SIGTERM) and starts it again; a change of anything else is no restart.
A deleted ConfigMap changes nothing: the running process keeps the last file, as a
running pod keeps its mounted files. If the process exits by itself, so does this one,
with its code (the component is down; `cluster status` shows it).

    python -m mlkube.localcluster.configmap_pod --kubeconfig K --configmap NS/NAME \
        --key config.yaml --file PATH -- BINARY ARGS...
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.controller.informer import Informer
from mlkube.fileio import write_atomic

STOP_GRACE = 10.0  # seconds from SIGTERM to SIGKILL, as processes.stop
log = logging.getLogger("mlkube.configmap_pod")


@dataclass(frozen=True)
class Mount:
    namespace: str
    name: str
    key: str
    file: Path

    def text(self, configmap: dict[str, Any] | None) -> str | None:
        """The key's text in the ConfigMap; None without the ConfigMap or the key."""
        value = ((configmap or {}).get("data") or {}).get(self.key)
        return value if isinstance(value, str) else None


class Pod:
    """The process, restarted whenever the mounted text changes."""

    def __init__(self, mount: Mount, argv: list[str]) -> None:
        self.mount, self.argv = mount, argv
        self.process: subprocess.Popen[bytes] | None = None
        self.mounted: str | None = None
        self.restarts = 0

    def sync(self, text: str | None) -> None:
        """Start, or restart with ``text``, unless it is what runs (or None)."""
        if text is None or text == self.mounted:
            return
        write_atomic(self.mount.file, text)
        if self.process is not None:
            self.stop()
            self.restarts += 1
        self.mounted = text
        # stdout and stderr are ours: the component's log
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL)
        log.info(
            "started %s (pid %d) with %s/%s %s (restart %d)",
            Path(self.argv[0]).name, self.process.pid, self.mount.namespace,
            self.mount.name, self.mount.key, self.restarts,
        )  # fmt: skip

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def exited(self) -> int | None:
        return self.process.poll() if self.process is not None else None


def run(kube: Kube, mount: Mount, argv: list[str]) -> int:
    """Until SIGTERM (0) or the process's own exit (its code)."""
    changed = threading.Event()
    stopping = threading.Event()
    key = f"{mount.namespace}/{mount.name}"
    informer = Informer(kube, "v1", "ConfigMap",
                        lambda _t, obj: changed.set() if _key(obj) == key else None)  # fmt: skip

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        changed.set()

    signal.signal(signal.SIGTERM, on_term)
    threading.Thread(target=informer.run, daemon=True, name="ConfigMap").start()
    pod = Pod(mount, argv)
    try:
        while not stopping.is_set():
            code = pod.exited()
            if code is not None:
                log.error("%s exited with code %d", argv[0], code)
                return code
            # a second at most between looks at the process; a change at once
            if changed.wait(1.0):
                changed.clear()
                if informer.synced.is_set() and not stopping.is_set():
                    pod.sync(mount.text(informer.get(key)))
            elif pod.process is None and informer.synced.is_set():
                pod.sync(mount.text(informer.get(key)))
        return 0
    finally:
        pod.stop()


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="mlkube-configmap-pod", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--configmap", required=True, help="NAMESPACE/NAME")
    parser.add_argument("--key", required=True)
    parser.add_argument("--file", required=True, type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    namespace, _, name = args.configmap.partition("/")
    if not command or not name:
        parser.error("--configmap NAMESPACE/NAME and a command after -- are required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with Kube(load_connection(args.kubeconfig)) as kube:
        sys.exit(run(kube, Mount(namespace, name, args.key, args.file), command))


if __name__ == "__main__":
    main()
