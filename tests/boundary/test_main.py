"""How `mlkube.cli.main` ends a verb that raised: the contract's code and one line, or,
for a bug, the traceback and a request to report it. The exceptions are raised by a
stand-in for a verb, since the point is what main does with each kind."""

from __future__ import annotations

import errno

import pytest

from mlkube.cli import rules

from .runner import run_cli


def _raising(exc: BaseException) -> object:
    def run(_args: object) -> int:
        raise exc

    return run


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (
            PermissionError(errno.EACCES, "Permission denied", "/srv/x"),
            2,
            "/srv/x: Permission denied",
        ),
        (
            OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b"),
            2,
            "/a → /b: Invalid",
        ),
        (OSError(errno.ENOSPC, "No space left on device"), 2, "No space left on device"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), 3, "Connection refused"),
    ],
)
def test_an_os_error_that_escaped_an_edge_is_one_line(
    monkeypatch: pytest.MonkeyPatch, exc: OSError, code: int, line: str
) -> None:
    monkeypatch.setattr(rules, "run_rules", _raising(exc))
    result = run_cli("rules")
    assert result.code == code
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith(f"mlkube: {line}")


def test_anything_else_is_a_bug_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "run_rules", _raising(KeyError("oops")))
    result = run_cli("rules")
    assert result.code == 70
    assert "Traceback" in result.err and "KeyError: 'oops'" in result.err
    assert result.err_lines[-1].startswith(
        "mlkube: internal error (a bug in mlkube); please report"
    )
