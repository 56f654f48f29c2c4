"""How long `mlkube controller run` takes to end when it cannot do its job, set beside
its peer, `mlkube --version` (the same interpreter and imports, nothing else): the
tests assert *that* it ends, with one line and the right code; this measures how fast.

    python bench/controller_exits.py [--kubeconfig FILE]

- refused: nothing listens at the server's address (exit 3).
- silent, SIGTERM: the server accepts connections and never answers; SIGTERM once the
  controller serves metrics (exit 0). Before the fix this took about 140 s.
- silent, give-up: the same server, no signal, ``--give-up-after 5`` (exit 3).
- lease namespace missing (with --kubeconfig, e.g. of `mlkube cluster up`): exit 4.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import measure
from mlkube.localcluster.processes import free_ports

MLKUBE = [sys.executable, "-m", "mlkube"]


def kubeconfig(directory: Path, server: str) -> Path:
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server,
                                                 "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))  # fmt: skip
    return path


def timed(argv: list[str]) -> tuple[float, int]:
    result = measure(argv)
    return result.seconds, result.exit_code


def sigterm_after_metrics(argv: list[str], port: int) -> tuple[float, int]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    start = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    code = process.wait(600)
    return time.perf_counter() - start, code


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", help="a real cluster, for the lease case")
    args = parser.parse_args()
    peer, _ = timed([*MLKUBE, "--version"])
    rows: list[tuple[str, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        refused = kubeconfig(Path(tmp), f"https://127.0.0.1:{free_ports(1)[0]}")
        metrics = ["--metrics-bind-address", f"127.0.0.1:{free_ports(1)[0]}"]
        rows.append(("refused", *timed([*MLKUBE, "controller", "run", "--kubeconfig",
                                         str(refused), *metrics])))  # fmt: skip
        quiet = kubeconfig(Path(tmp), f"https://127.0.0.1:{silent.getsockname()[1]}")
        port = free_ports(1)[0]
        argv = [*MLKUBE, "controller", "run", "--kubeconfig", str(quiet),
                "--metrics-bind-address", f"127.0.0.1:{port}"]  # fmt: skip
        rows.append(("silent, SIGTERM (from the signal)", *sigterm_after_metrics(argv, port)))
        rows.append(("silent, give-up after 5 s", *timed([*argv[:-2], "--give-up-after", "5",
                                                           *metrics])))  # fmt: skip
    if args.kubeconfig:
        rows.append(("lease namespace missing", *timed([
            *MLKUBE, "controller", "run", "--kubeconfig", args.kubeconfig,
            "--lease-namespace", "mlkube-bench-missing", *metrics])))  # fmt: skip
    print(f"peer `mlkube --version`: {peer:.2f} s")
    print(f"{'case':38} {'seconds':>8} {'x peer':>7} {'exit':>5}")
    for case, seconds, code in rows:
        print(f"{case:38} {seconds:8.2f} {seconds / peer:7.1f} {code:5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
