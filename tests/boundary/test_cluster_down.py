"""`cluster down` removes a cluster's own directory and nothing else (issue 14: with a
name like ``../../victim`` it used to remove whatever the path reached)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlkube.localcluster.cluster import MARKER

from .runner import run_cli


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache inside tmp_path, with a victim directory beside it that no verb may touch."""
    root = tmp_path / "home" / "cache"
    (root / "clusters").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    monkeypatch.setenv("MLKUBE_CACHE", str(root))
    monkeypatch.chdir(tmp_path / "home")
    return root


def _made_by_up(cache: Path, name: str) -> Path:
    """A stopped cluster's directory as `up` leaves it (marker, state, logs), no processes."""
    root = cache / "clusters" / name
    (root / "logs").mkdir(parents=True)
    (root / MARKER).write_text("created by `mlkube cluster up`\n")
    state = {"name": name, "ports": {"apiserver": 1}, "processes": {}, "platform": None}
    (root / "state.json").write_text(json.dumps(state))
    (root / "logs" / "etcd.log").write_text("log")
    return root


@pytest.mark.parametrize(
    "name", ["../../victim", "../victim", "", ".", "..", "../../..", "a/b", "Upper", "-x", "x" * 64]
)
@pytest.mark.parametrize("verb", ["down", "status", "up"])
def test_a_name_that_is_not_a_dns_label_is_refused(cache: Path, name: str, verb: str) -> None:
    other = _made_by_up(cache, "other")
    result = run_cli("cluster", verb, f"--name={name}")
    assert result.code == 2
    assert len(result.err_lines) == 1 and "a cluster name is 1 to 63" in result.err
    assert (cache.parent.parent / "victim" / "precious.txt").read_text() == "keep me"
    assert (other / MARKER).is_file()  # `.` and '' used to mean every cluster


def test_down_removes_the_directory_up_made(cache: Path) -> None:
    root = _made_by_up(cache, "dev")
    result = run_cli("cluster", "down", "--name", "dev")
    assert result.code == 0, result.err
    assert not root.exists()
    assert (cache / "clusters").is_dir()


def test_down_refuses_a_directory_up_did_not_make(cache: Path) -> None:
    foreign = cache / "clusters" / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a cluster")
    result = run_cli("cluster", "down", "--name", "mine")
    assert result.code == 2
    assert len(result.err_lines) == 1 and MARKER in result.err
    assert (foreign / "notes.txt").read_text() == "not a cluster"


def test_down_refuses_a_symlink_out_of_the_cache(cache: Path) -> None:
    victim = cache.parent.parent / "victim"
    (victim / MARKER).write_text("even with a marker")  # the link is what is refused
    (cache / "clusters" / "dev").symlink_to(victim)
    result = run_cli("cluster", "down", "--name", "dev")
    assert result.code == 2 and len(result.err_lines) == 1
    assert "resolves outside" in result.err
    assert (victim / "precious.txt").read_text() == "keep me"


def test_the_cache_itself_may_be_a_symlink(cache: Path, tmp_path: Path) -> None:
    """Resolving is about the cluster's own directory: a cache reached through a link
    (a home directory on another disk) still works."""
    link = tmp_path / "cache-link"
    link.symlink_to(cache)
    root = _made_by_up(cache, "dev")
    result = run_cli("cluster", "down", "--name", "dev")
    assert result.code == 0, result.err
    assert not root.exists()
    del link


def test_down_of_no_cluster_says_so_and_succeeds(cache: Path) -> None:
    result = run_cli("cluster", "down", "--name", "absent")
    assert result.code == 0
    assert "no local cluster named 'absent'" in result.err


def test_a_corrupt_state_file_is_one_line_and_nothing_is_removed(cache: Path) -> None:
    root = _made_by_up(cache, "dev")
    (root / "state.json").write_text('{"name": "dev", "processes": 7}')
    for verb in ("down", "status"):
        result = run_cli("cluster", verb, "--name", "dev")
        assert result.code == 2 and len(result.err_lines) == 1, result.err
        assert "not a state file" in result.err
    assert (root / "logs" / "etcd.log").is_file()


def test_up_refuses_to_start_in_a_directory_it_did_not_make(cache: Path) -> None:
    """`up` first clears what a failed start left: never a stranger's directory."""
    foreign = cache / "clusters" / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a cluster")
    result = run_cli("cluster", "up", "--name", "mine")
    assert result.code == 2 and len(result.err_lines) == 1
    assert MARKER in result.err
    assert (foreign / "notes.txt").read_text() == "not a cluster"
