"""tools/build.sh and mlkube.localcluster.binaries name the same components, and the
packaging tools (helm, kubectl) are built but are no part of a cluster."""

from __future__ import annotations

import re
import subprocess

from mlkube.localcluster.binaries import BINARIES, CLUSTER, CPU_METRICS, MODULES, version

from ..conftest import ROOT

BUILD = ROOT / "tools" / "build.sh"


def _build_components(variable: str = "ALL_COMPONENTS") -> list[str]:
    match = re.search(rf"^{variable}=\(([^)]*)\)", BUILD.read_text(), re.M)
    assert match
    return match.group(1).split()


def test_build_sh_and_binaries_py_agree() -> None:
    assert sorted(_build_components() + _build_components("EXTRA_COMPONENTS")) == sorted(MODULES)
    assert set(BINARIES.values()) == set(MODULES)


def test_metrics_server_is_built_only_when_named() -> None:
    """`make binaries` (build.sh with no argument) builds ALL_COMPONENTS: metrics-server,
    which only the scale-up benchmark's `cluster up --cpu-metrics` needs, is not in the
    cold build that `make test` and `make demo` pay for."""
    assert set(CPU_METRICS) == {"metrics-server"}
    assert "metrics-server" not in _build_components()
    assert "metrics-server" in _build_components("EXTRA_COMPONENTS")


def test_helm_and_kubectl_are_built_but_not_part_of_a_cluster() -> None:
    assert {"helm", "kubectl"} <= set(MODULES)
    assert not {"helm", "kubectl"} & set(CLUSTER)


def test_an_unknown_component_is_refused_by_name() -> None:
    proc = subprocess.run(
        ["bash", str(BUILD), "nosuch"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert "unknown component 'nosuch'" in proc.stderr and "helm kubectl" in proc.stderr


def test_the_seed_of_build_times_names_every_binary_at_its_pinned_version() -> None:
    """tools/build-times.tsv (the cold build of docs/testbed.md) is what build.sh
    estimates from on a machine that never built: it must name what build.sh builds."""
    rows = [r.split("\t") for r in (ROOT / "tools" / "build-times.tsv").read_text().splitlines()]
    assert {r[0] for r in rows} == set(MODULES)
    assert {(c, b) for b, c in BINARIES.items()} <= {(r[0], r[1]) for r in rows}
    assert all(r[3] == version(r[0]) and int(r[2]) > 0 for r in rows)
