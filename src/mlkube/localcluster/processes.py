"""Starting and stopping the cluster's processes, by pid, never by name."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mlkube.errors import MlkubeError
from mlkube.wait import WaitTimeout, until


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (held open together so that they differ)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start(argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start ``argv`` in its own session, output to ``log``, and return its pid.

    Spawned without a ``Popen`` object: the process outlives the CLI that started it,
    and only its pid (with its binary, in the state file) is kept to stop it later.
    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(
        argv[0], list(argv), {**os.environ, **(env or {})}, file_actions=actions, setsid=True
    )


def alive(pid: int, binary: str | None = None) -> bool:
    """Whether ``pid`` runs, and (if given) runs ``binary``: a recycled pid is not ours."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":  # a zombie has exited
        return False
    return binary is None or cmdline.split(b"\0", 1)[0].decode(errors="replace") == binary


def stop(pid: int, binary: str, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; only if ``pid`` still runs ``binary``."""
    if not alive(pid, binary):
        return
    os.kill(pid, signal.SIGTERM)
    try:
        until(f"pid {pid} to exit", lambda: _ended(pid), timeout=grace, every=0.1)
        return
    except WaitTimeout:
        pass
    if alive(pid, binary):
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        _reap(pid)


def _ended(pid: int) -> bool | None:
    _reap(pid)
    return None if alive(pid) else True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def exit_status(pid: int) -> int | None:
    """The exit code of our child ``pid`` once it has ended (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child, or already reaped
        return None
    return os.waitstatus_to_exitcode(status) if done else None


def tail(log: Path, lines: int = 5) -> str:
    """The last lines of a component's log, on one line."""
    if not log.exists():
        return "(no output)"
    last = log.read_text(errors="replace").strip().splitlines()[-lines:]
    return " | ".join(last)[-800:] or "(no output)"


def wait_until(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    log: Path | None = None,
    pid: int | None = None,
) -> None:
    """Until ``check()`` is true. A check that raises an MlkubeError (the process
    exited, say) ends the wait at once; other exceptions mean "not up yet". With
    ``pid``, the process ending is noticed at once too, and reported with its log."""

    def ready() -> bool | None:
        if pid is not None and not alive(pid):
            code = exit_status(pid)
            how = f"with code {code}" if code is not None else ""
            raise MlkubeError(
                f"{what} exited {how} at start; last lines of {log}: "
                f"{tail(log) if log else ''}".replace("  ", " ")
            )
        try:
            return True if check() else None
        except MlkubeError:
            raise
        except Exception:  # not up yet, whatever the reason
            return None

    try:
        until(what, ready, timeout=timeout)
    except WaitTimeout:
        suffix = f": {tail(log, 3)}" if log is not None and log.exists() else ""
        raise MlkubeError(f"{what} not ready after {timeout:.0f}s{suffix}") from None
