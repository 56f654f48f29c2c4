"""The Python API as a contract (issue 12): `__all__` is exactly what docs/api.md
documents, every name resolves, the functions are typed with exported types, importing
`mlkube` loads nothing heavy, the version lives in the package metadata only, and the
examples in docs/api.md print what they say they print."""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import io
import json
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import mlkube
from mlkube.cluster.client import Kube, Timeouts
from mlkube.cluster.kubeconfig import Overrides

from ..conftest import ROOT

API_DOC = ROOT / "docs" / "api.md"
# The contract, written out: a name added to or dropped from mlkube.__all__ fails here
# until it is added here and to docs/api.md.
PUBLIC = {
    "load_specs", "render", "lint", "doctor", "preflight", "plan", "connect",
    "Report", "PreflightReport", "Finding", "Location", "Severity", "Bundle", "SpecFile",
    "Evidence", "PlanResult",
    "MlkubeError", "InputError", "UsageError", "ClusterError", "Unreachable",
    "lint_paths", "render_paths", "__version__",
}  # fmt: skip
FUNCTIONS = ("load_specs", "render", "lint", "doctor", "preflight", "plan", "connect")


def test_all_is_the_contract() -> None:
    assert set(mlkube.__all__) == PUBLIC
    assert len(mlkube.__all__) == len(PUBLIC)  # no name twice
    for name in mlkube.__all__:
        assert getattr(mlkube, name) is not None, name
    assert set(mlkube.__all__) <= set(dir(mlkube))


def test_every_public_name_is_documented() -> None:
    text = API_DOC.read_text()
    for name in PUBLIC - {"__version__", "lint_paths", "render_paths"}:
        assert re.search(rf"`[^`]*\b{name}\b[^`]*`", text), f"docs/api.md does not mention {name}"


def test_functions_are_typed_with_exported_types() -> None:
    exported = {id(getattr(mlkube, n)) for n in mlkube.__all__}
    names = {n: getattr(mlkube, n) for n in mlkube.__all__} | vars(typing)
    names |= {"Kube": Kube, "Timeouts": Timeouts, "Overrides": Overrides}
    for name in FUNCTIONS:
        function = getattr(mlkube, name)
        hints = typing.get_type_hints(function, localns=names)
        params = inspect.signature(function).parameters
        assert set(params) <= set(hints) and "return" in hints, name
        returned = hints["return"]
        origin = typing.get_origin(returned)
        if origin is None:
            assert id(returned) in exported, (name, returned)
        elif origin is list:
            (item,) = typing.get_args(returned)
            assert id(item) in exported or item in (dict, typing.Any) or typing.get_origin(item), (
                name,
                returned,
            )
    assert (Path(mlkube.__file__).parent / "py.typed").is_file()


def test_a_submodule_import_does_not_replace_the_function() -> None:
    import mlkube.doctor  # noqa: PLC0415 - the point: the import binds nothing over it
    import mlkube.lint  # noqa: PLC0415
    import mlkube.plan.html  # noqa: PLC0415

    assert callable(mlkube.lint) and callable(mlkube.doctor) and callable(mlkube.plan)
    assert sys.modules["mlkube.lint"].lint_paths is mlkube.lint_paths


PROBE = """
import json, sys
import mlkube
{touch}
heavy = ("pydantic", "httpx", "yaml", "mlkube.cluster", "mlkube.rules", "mlkube.spec")
top = {{".".join(m.split(".")[:2 if m.startswith("mlkube") else 1]) for m in sys.modules}}
print(json.dumps(sorted(m for m in top if m.startswith(heavy))))
"""


def _loaded(touch: str = "") -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(touch=touch)],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: list[str] = json.loads(proc.stdout)
    return loaded


def test_importing_mlkube_loads_nothing_heavy() -> None:
    assert _loaded() == []
    # naming a function loads its module, not the cluster client
    assert "httpx" not in _loaded("mlkube.lint; mlkube.doctor; mlkube.Report")
    # the premise: the probe sees them when they load
    assert {"httpx", "mlkube.cluster"} <= set(_loaded("import mlkube.cluster.client"))


def test_the_version_is_the_package_metadatas_only() -> None:
    version = importlib.metadata.version("mlkube")
    assert mlkube.__version__ == version
    from mlkube.cli.main import main  # noqa: PLC0415

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["--version"])
    assert out.getvalue() == f"mlkube {version}\n"
    # written nowhere in the source but pyproject.toml
    literal = re.compile(rf"""["']{re.escape(version)}["']""")
    for path in (ROOT / "src" / "mlkube").rglob("*.py"):
        assert not literal.search(path.read_text()), path


def blocks(tag: str) -> list[str]:
    """The ```python blocks of docs/api.md (``tag`` "": those that need no cluster)."""
    fence = "```python" + (f" {tag}" if tag else "")
    return re.findall(rf"^{re.escape(fence)}\n(.*?)^```$", API_DOC.read_text(), re.M | re.S)


def expected_and_actual(code: str) -> tuple[list[str], list[str]]:
    """What the block's ``# `` lines say it prints, and what it printed (run in a fresh
    namespace, from the repository's root)."""
    expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    out = io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out):
        exec(compile(code, str(API_DOC), "exec"), {"__name__": "api_doc"})
    return expected, out.getvalue().splitlines()


@pytest.mark.parametrize("index", range(len(blocks(""))))
def test_docs_api_examples_print_what_they_say(index: int) -> None:
    code = blocks("")[index]
    expected, actual = expected_and_actual(code)
    assert expected, "an example says what it prints"
    assert actual == expected


def test_plan_keeps_the_pools_own_reclaim_rate_unless_told(tmp_path: Path) -> None:
    """As `mlkube plan` without --spot-reclaim-rate: the Platform's per-pool rate holds.
    At 20 reclaims per node-hour on a100-spot, some spot job of the sample trace is
    reclaimed; told 0, none is."""
    text = (ROOT / "examples" / "platform.yaml").read_text()
    spot = "      capacity: spot\n"
    assert text.count(spot) == 1
    platform = tmp_path / "platform.yaml"
    platform.write_text(text.replace(spot, spot + "      reclaimRate: 20\n"))
    trace = ROOT / "examples" / "trace.csv"
    (own,) = mlkube.plan(platform, trace, seed=1)
    (none,) = mlkube.plan(platform, trace, seed=1, spot_reclaim_rate=0)
    assert any(job.reclaims for job in own.jobs)
    assert not any(job.reclaims for job in none.jobs)
