"""The rules are pure: loading them, in a fresh interpreter, loads no HTTP client and
nothing from `mlkube.cluster` (which does I/O)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlkube.cli.main import VERBS, build_parser

PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(m for m in sys.modules if m == "httpx" or m.startswith("mlkube.cluster"))))
"""


@pytest.mark.parametrize(
    "module",
    [
        "mlkube.rules.registry",
        "mlkube.rules.doctor",
        "mlkube.rules.preflight",
        "mlkube.snapshots.evidence",
        "mlkube.snapshots.facts",
        "mlkube.doctor",
        "mlkube.preflight",
    ],
)
def test_rules_and_snapshots_load_no_io(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == []


def test_the_probe_sees_io_modules_when_they_load() -> None:
    """The premise: the same probe does see the client when something imports it."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module="mlkube.cluster.evidence")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "httpx" in json.loads(out)


def test_the_training_runtime_loads_neither_the_linter_nor_its_libraries() -> None:
    """`import mlkube.runtime` runs in every rank: none of pydantic, httpx, yaml, the
    linter or the renderer may come with it."""
    probe = (
        "import json, sys, mlkube.runtime\n"
        "heavy = ('pydantic', 'httpx', 'yaml', 'torch', 'mlkube.lint', 'mlkube.render',"
        " 'mlkube.spec', 'mlkube.rules', 'mlkube.cluster')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_the_public_api_loads_on_first_use() -> None:
    import mlkube  # noqa: PLC0415 - the point is what this import does

    assert callable(mlkube.lint_paths) and callable(mlkube.render_paths)
    assert mlkube.__version__.count(".") >= 2


def _loaded_by(code: str, heavy: tuple[str, ...]) -> list[str]:
    """Which of ``heavy`` (packages or modules) ``code`` loads in a fresh interpreter."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"heavy = {heavy!r}\n"
        "print(json.dumps(sorted({h for h in heavy for m in list(sys.modules)"
        " if m == h or m.startswith(h + '.')})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded: list[str] = json.loads(out.splitlines()[-1])
    return loaded


def test_listing_the_rules_loads_neither_pydantic_nor_the_spec_nor_the_renderer() -> None:
    """`mlkube rules` loads every rule; a rule reads plain objects, so the schema of
    saved snapshots (pydantic) and the Platform's models are not part of it."""
    heavy = ("pydantic", "httpx", "mlkube.spec", "mlkube.render", "mlkube.snapshots.schema")
    assert _loaded_by("import mlkube.rules.registry", heavy) == []


def test_rules_load_pyyaml_and_re2_only_when_they_read_yaml_or_match_a_pattern() -> None:
    """The rules name field paths but parse no YAML until a document is read, and the
    adapter rules compile Go regexps only when there is one to match (`mlkube rules`:
    0.01-0.02 s of CPU each). The premise: using them does load them."""
    assert _loaded_by("import mlkube.rules.registry", ("yaml", "re2")) == []
    use = (
        "import mlkube.rules.registry\n"
        "from mlkube.rules.lint import goregexp\n"
        "from mlkube.manifests.objects import live_manifest\n"
        "assert goregexp.search('a+', 'caab')\n"
        "live_manifest({'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'p'}}, 'k')"
    )
    assert _loaded_by(use, ("yaml", "re2")) == ["re2", "yaml"]


def _cli(argv: list[str]) -> str:
    return (
        "import contextlib, io\n"
        "from mlkube.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})"
    )


VERB_MODULES = tuple(
    f"mlkube.cli.{m}"
    for m in ("render", "lint", "rules", "cluster", "apply", "status", "doctor", "preflight",
              "controller", "plan", "completion")
)  # fmt: skip


def test_the_version_loads_no_verb() -> None:
    assert _loaded_by(_cli(["--version"]), (*VERB_MODULES, "httpx", "pydantic", "yaml")) == []


@pytest.mark.parametrize(
    ("argv", "absent"),
    [
        (
            ["rules"],
            ("httpx", "pydantic", "mlkube.cluster", "mlkube.lint", "mlkube.render", "yaml", "re2"),
        ),
        (
            ["doctor", "--help"],
            ("pydantic", "mlkube.lint", "mlkube.rules.lint", "re2", "mlkube.render", "mlkube.spec"),
        ),
        (["lint", "--help"], ("httpx", "mlkube.cluster", "mlkube.render")),
        (["status", "--help"], ("pydantic", "mlkube.lint", "mlkube.rules.lint", "mlkube.render")),
        (["plan", "--help"], ("httpx", "mlkube.cluster", "mlkube.rules")),
    ],
)
def test_each_verb_loads_what_it_uses_and_no_other_verb(
    argv: list[str], absent: tuple[str, ...]
) -> None:
    others = tuple(m for m in VERB_MODULES if not m.endswith(f".{argv[0]}"))
    assert _loaded_by(_cli(argv), (*others, *absent)) == []


def test_the_verb_table_says_which_module_registers_each_verb() -> None:
    """main registers only the module the table names for a verb: each module must
    register exactly the verbs the table gives it, in the table's order."""

    def verbs(parser: argparse.ArgumentParser) -> list[str]:
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return list(sub.choices)

    assert verbs(build_parser()) == list(VERBS)
    for module in set(VERBS.values()):
        assert verbs(build_parser((module,))) == [v for v, m in VERBS.items() if m == module]


def test_connecting_as_doctor_does_loads_neither_the_linter_nor_the_public_api(
    tmp_path: Path,
) -> None:
    """`kubeopts.connect` is where doctor's run begins, after the imports `--help`
    covers: it once went through `mlkube.api`, which loads the linter (0.1 s of CPU).
    Opening a client sends nothing, so a server that is not there will do."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u, namespace: bench}}]\n"
    )
    code = (
        "from mlkube.cli import kubeopts\n"
        "from mlkube.cli.main import build_parser\n"
        "args = build_parser(('doctor',)).parse_args(\n"
        f"    ['doctor', '--kubeconfig', {str(kubeconfig)!r}])\n"
        "kube, namespace = kubeopts.connect(args)\n"
        "assert namespace == 'bench', namespace\n"
        "kube.close()"
    )
    heavy = ("mlkube.api", "mlkube.lint", "mlkube.rules.lint", "re2", "pydantic", "mlkube.render")
    assert _loaded_by(code, heavy) == []
