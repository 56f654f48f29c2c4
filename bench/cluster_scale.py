"""The local cluster at scale, from cached binaries:

1. ``mlkube cluster up`` until 100 fake GPU nodes are Ready (goal: under 30 s);
2. scheduling 1,000 single-GPU pods onto 125 eight-GPU nodes by the real
   kube-scheduler, set beside the scheduler_perf floor for extended resources
   (180 pods/s, kubernetes/test/integration/scheduler_perf).

    python bench/cluster_scale.py
"""

from __future__ import annotations

import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection
from mlkube.localcluster import cluster
from mlkube.manifests.yamlstream import read_text
from mlkube.spec import load_specs

PLATFORM = """\
apiVersion: mlkube.dev/v1alpha1
kind: Platform
metadata: {{name: bench}}
spec:
  pools:
    - name: h100
      gpu: {{model: NVIDIA-H100-80GB-HBM3, count: 8}}
      nodes: {nodes}
      zones: [zone-a, zone-b, zone-c]
      cpu: "192"
      memory: 2Ti
"""


def up(name: str, nodes: int) -> float:
    (platform,) = load_specs(read_text(PLATFORM.format(nodes=nodes), "bench-platform.yaml"))
    cluster.down(name, lambda _m: None)
    started = time.monotonic()
    cluster.up(name, platform, lambda m: print(f"  {m}"))
    return time.monotonic() - started


def schedule(name: str, pods: int) -> tuple[float, float]:
    """Create ``pods`` with the scheduler stopped (SIGSTOP, by pid), then resume it and
    time until every pod is bound: the scheduler's own throughput, not the API's."""
    state = cluster.running(name)
    assert state is not None
    scheduler = state.processes["kube-scheduler"][0]
    with Kube(load_connection(str(cluster.kubeconfig_path(name)))) as kube:
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})

        def create(i: int) -> None:
            kube.create(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": f"p-{i}", "namespace": "bench"},
                    "spec": {
                        "containers": [
                            {
                                "name": "c",
                                "image": "x",
                                "resources": {"limits": {"nvidia.com/gpu": "1"}},
                            }
                        ]
                    },
                }
            )

        os.kill(scheduler, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(create, range(pods)))
            created = time.monotonic() - started
        finally:
            os.kill(scheduler, signal.SIGCONT)
        started = time.monotonic()
        while True:
            bound = sum(1 for p in kube.list("v1", "Pod", "bench") if p["spec"].get("nodeName"))
            if bound == pods:
                return created, time.monotonic() - started
            time.sleep(0.25)  # listing 1,000 pods loads the API server: not too often


def main() -> int:
    name = "bench-scale"
    try:
        seconds = up(name, 100)
        print(f"cluster up with 100 GPU nodes Ready: {seconds:.1f} s (goal < 30 s)")
        cluster.down(name, lambda _m: None)
        up(name, 125)
        created, bound = schedule(name, 1000)
        print(
            f"1000 single-GPU pods on 125 x 8-GPU nodes: created (scheduler stopped) in "
            f"{created:.1f} s; all bound {bound:.1f} s after the scheduler resumed = "
            f"{1000 / bound:.0f} pods/s (scheduler_perf floor for extended resources: 180 pods/s)"
        )
    finally:
        cluster.down(name, lambda _m: None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
