"""`mlkube completion SHELL`: each script loaded by the real shell, and asked to complete
what a person types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlkube.rules.registry import ALL_RULES

from ..conftest import Result, Run
from .tools import need


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("completion")
    paths = {}
    for shell in ("bash", "zsh", "fish"):
        proc = subprocess.run(
            [sys.executable, "-m", "mlkube", "completion", shell], capture_output=True, check=True
        )
        paths[shell] = out / f"mlkube.{shell}"
        paths[shell].write_bytes(proc.stdout)
    return paths


def bash_complete(script: Path, *words: str, cwd: Path | None = None) -> list[str]:
    """What bash offers for the last of ``words``, through the function the script
    registered for mlkube (``complete -p``), called as readline would call it."""
    line = " ".join(words)
    program = f"""
source {script}
spec=$(complete -p mlkube) || exit 3
fn=$(sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p' <<<"$spec")
COMP_WORDS=({" ".join(f"'{w}'" for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE='{line}'
COMP_POINT={len(line)}
"$fn" mlkube '{words[-1]}' '{words[-2]}'
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return [w for w in proc.stdout.splitlines() if w]


def test_bash_completes_a_verb(scripts: dict[str, Path]) -> None:
    need("bash")
    assert bash_complete(scripts["bash"], "mlkube", "li") == ["lint"]
    assert "completion" in bash_complete(scripts["bash"], "mlkube", "")
    assert bash_complete(scripts["bash"], "mlkube", "nosuchverb") == []


def test_bash_completes_nested_actions_and_choices(scripts: dict[str, Path]) -> None:
    need("bash")
    assert sorted(bash_complete(scripts["bash"], "mlkube", "controller", "")) == [
        "manifests",
        "run",
    ]
    assert sorted(bash_complete(scripts["bash"], "mlkube", "lint", "-o", "")) == [
        "json",
        "sarif",
        "text",
        "yaml",
    ]
    assert "--fail-on" in bash_complete(scripts["bash"], "mlkube", "lint", "--f")


def test_bash_completes_rule_ids_and_files(scripts: dict[str, Path], tmp_path: Path) -> None:
    need("bash")
    first = sorted(ALL_RULES, key=lambda r: r.id)[0]
    offered = bash_complete(scripts["bash"], "mlkube", "explain", first.id[:3])
    assert first.id in offered and all(w.startswith(first.id[:3]) for w in offered)
    (tmp_path / "job.yaml").write_text("{}\n")
    assert bash_complete(scripts["bash"], "mlkube", "lint", "jo", cwd=tmp_path) == ["job.yaml"]
    assert bash_complete(scripts["bash"], "mlkube", "lint", "-f", "jo", cwd=tmp_path) == [
        "job.yaml"
    ]


def test_zsh_script_parses_and_registers_mlkube(scripts: dict[str, Path]) -> None:
    need("zsh")
    subprocess.run(["zsh", "-n", str(scripts["zsh"])], check=True)
    # loaded as `eval "$(mlkube completion zsh)"` after compinit, it binds mlkube
    program = (
        "autoload -Uz compinit && compinit -u -D"
        f' && eval "$(cat {scripts["zsh"]})" && print -r -- $_comps[mlkube]'
    )
    proc = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "_shtab_mlkube"


def fish_complete(script: Path, line: str) -> list[str]:
    proc = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [entry.split("\t")[0] for entry in proc.stdout.splitlines()]


def test_fish_script_parses_and_completes(scripts: dict[str, Path]) -> None:
    need("fish")
    subprocess.run(["fish", "--no-execute", str(scripts["fish"])], check=True)
    assert fish_complete(scripts["fish"], "mlkube clu") == ["cluster"]
    assert sorted(fish_complete(scripts["fish"], "mlkube cluster ")) == ["down", "status", "up"]
    assert sorted(fish_complete(scripts["fish"], "mlkube doctor --format ")) == [
        "json",
        "sarif",
        "text",
        "yaml",
    ]


def test_an_unknown_shell_is_a_usage_error(mlkube: Run) -> None:
    result: Result = mlkube("completion", "tcsh")
    assert result.code == 2 and result.out == ""
    assert "invalid choice: 'tcsh'" in result.err
