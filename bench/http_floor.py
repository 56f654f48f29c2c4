"""What doctor's HTTP client costs, against the standard library's floor: is a
stdlib ``http.client`` path for doctor's plain GETs worth writing (issue 11 §2)?

    python bench/http_floor.py --kubeconfig FILE [--runs 9]

Two programs, each in a fresh interpreter, alternating run by run: both read the
kubeconfig with mlkube and list the 5,000 pods of namespace ``bench`` (the cluster of
`bench/doctor_scale.py`) from the watch cache, gzip-compressed, decoded with the
collector paused. One lists them as doctor does (`mlkube.cluster.client.Kube`, on
httpx); the other with ``http.client`` and ``ssl`` alone, which handles only what this
cluster's kubeconfig uses (CA and client certificate files) and nothing of what the
client does besides (retries, exec plugins, proxies, 401 refresh). The difference in
CPU is the most a stdlib path could save; medians of wall and the child's CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import Measurement, compile_mlkube, measure

SETUP = """
import gc, sys
from mlkube.cluster.kubeconfig import load_connection
connection = load_connection(sys.argv[1])
gc.disable()
"""
PROGRAMS = {
    "mlkube's client (httpx)": SETUP
    + """
from mlkube.cluster.client import Kube
with Kube(connection) as kube:
    pods = kube.list("v1", "Pod", "bench", cached=True)
assert len(pods) >= 5000, len(pods)
""",
    "http.client and ssl (the floor)": SETUP
    + """
import gzip, http.client, json, ssl
from urllib.parse import urlsplit
context = ssl.create_default_context(cafile=connection.ca_file)
context.load_cert_chain(connection.cert_file, connection.key_file)
url = urlsplit(connection.server)
http = http.client.HTTPSConnection(url.hostname, url.port, context=context)
http.request("GET", "/api/v1/namespaces/bench/pods?resourceVersion=0&limit=500",
             headers={"Accept": "application/json", "Accept-Encoding": "gzip"})
response = http.getresponse()
body = response.read()
assert response.status == 200, response.status
if response.getheader("Content-Encoding") == "gzip":
    body = gzip.decompress(body)
pods = json.loads(body)["items"]
assert len(pods) >= 5000, len(pods)
""",
    "python -c pass": "pass",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    compile_mlkube()
    results: dict[str, list[Measurement]] = {name: [] for name in PROGRAMS}
    load = os.getloadavg()[0]
    for _ in range(args.runs):
        for name, code in PROGRAMS.items():
            result = measure([sys.executable, "-c", code, args.kubeconfig])
            assert result.exit_code == 0, name
            results[name].append(result)
    print(f"runs: {args.runs}; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    print("| program | wall, median (s) | CPU, median (s) |\n|---|---|---|")
    for name, values in results.items():
        wall = statistics.median(r.seconds for r in values)
        cpu = statistics.median(r.cpu_seconds for r in values)
        print(f"| {name} | {wall:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
