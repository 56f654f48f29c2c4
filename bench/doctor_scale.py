"""Doctor on a namespace with 5,000 pods, on the local cluster: the time to gather
evidence and diagnose (goal: under 3 s), and the number of API list calls, which must
not grow with the number of pods (compared with 500 pods in the same run).

    python bench/doctor_scale.py
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import measure
from mlkube.cluster.client import Kube
from mlkube.cluster.evidence import gather
from mlkube.cluster.kubeconfig import load_connection
from mlkube.doctor import diagnose
from mlkube.localcluster import cluster
from mlkube.manifests.yamlstream import read_text
from mlkube.spec import load_specs

PLATFORM = """\
apiVersion: mlkube.dev/v1alpha1
kind: Platform
metadata: {name: bench}
spec:
  pools:
    - {name: cpu, gpu: {model: none, count: 1}, nodes: 60, zones: [a], cpu: "256", memory: 1Ti}
"""


def populate(kube: Kube, namespace: str, count: int, start: int = 0) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def create(i: int) -> None:
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"p-{i}", "namespace": namespace, "labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "x:1"}]},
            }
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(start, start + count)))


def main() -> int:
    name = "bench-doctor"
    (platform,) = load_specs(read_text(PLATFORM, "bench.yaml"))
    cluster.down(name, lambda _m: None)
    cluster.up(name, platform, lambda _m: None)
    kubeconfig = str(cluster.kubeconfig_path(name))
    try:
        with Kube(load_connection(kubeconfig)) as kube:
            for total in (500, 5000):
                populate(
                    kube,
                    "bench",
                    total - (500 if total == 5000 else 0),
                    500 if total == 5000 else 0,
                )
                time.sleep(5)  # let KWOK settle the pods
                started = time.perf_counter()
                evidence = gather(kube, "bench")
                gathered = time.perf_counter() - started
                findings = diagnose(evidence)
                total_time = time.perf_counter() - started
                print(
                    f"{len(evidence.of('v1', 'Pod')):5d} pods: {evidence.calls} list calls, "
                    f"gather {gathered:.2f} s, gather + diagnose {total_time:.2f} s, "
                    f"{len(findings)} findings (goal: under 3 s, calls constant)"
                )
        cli = measure(
            [sys.executable, "-m", "mlkube", "doctor", "-n", "bench", "--kubeconfig", kubeconfig]
        )
        print(f"`mlkube doctor -n bench` end to end (process start included): {cli.seconds:.2f} s")
    finally:
        cluster.down(name, lambda _m: None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
