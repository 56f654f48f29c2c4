"""Writing files and directories so that a reader sees the old version or the new one,
never half of either, and a failure leaves nothing behind (one helper for each: a file,
a directory replaced, a directory made once).

These raise ``OSError``; the caller knows what the file is for and turns the error into
its own typed error (``reason`` gives the words), at the edge where it is used.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


def reason(exc: OSError) -> str:
    """What went wrong, in the operating system's words ("Permission denied")."""
    return exc.strerror or str(exc) or type(exc).__name__


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    durable: bool = False,
    tmp: str | os.PathLike[str] | None = None,
    mode: int = 0o644,
) -> None:
    """Replace ``path`` with ``data`` in one rename.

    ``durable`` adds the fsyncs that make the new content survive a crash (the bytes
    before the rename, the directory after it), for checkpoints; a config or state file
    does without. ``tmp`` names the temporary file when a reader must recognise
    leftovers (the runtime's ``*.tmp-<pid>``); by default it is a fresh hidden name
    beside ``path``. The temporary file is removed on any failure.
    """
    target = Path(path)
    content = data.encode() if isinstance(data, str) else data
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
    if tmp is None:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        temporary = Path(name)
    else:
        temporary = Path(tmp)
        fd = os.open(temporary, flags | os.O_TRUNC, mode)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)  # the bytes are on disk before the name points at them
        finally:
            os.close(fd)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_directory(target.parent)  # and the rename itself survives a crash


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some network file systems refuse fsync on a directory
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


def replace_directory(target: Path, fill: Callable[[Path], None]) -> None:
    """Replace the directory ``target`` whole by one that ``fill`` writes.

    ``fill`` writes into a staging directory beside ``target``; only when it has
    succeeded does the staging directory take ``target``'s place. On any failure
    (``fill``'s, or a rename's) ``target`` is as it was and nothing else remains.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fill(staging)
        staging.chmod(0o755)
        if not target.exists():
            os.rename(staging, target)
            return
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        try:
            os.rename(target, retired / "tree")
        except BaseException:
            retired.rmdir()
            raise
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(retired / "tree", target)  # the previous version back in its place
            retired.rmdir()
            raise
        shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def create_directory(target: Path, fill: Callable[[Path], object]) -> bool:
    """Make the directory ``target`` whole, once, by one that ``fill`` writes; False if
    another writer's (or an older) non-empty ``target`` was there first, and is kept.

    ``fill`` writes into a staging directory of its own beside ``target``, so writers
    side by side never share one; an empty ``target`` is replaced. On ``fill``'s
    failure nothing of the staging directory remains.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fill(staging)
        staging.chmod(0o755)
        try:
            os.rename(staging, target)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            shutil.rmtree(staging, ignore_errors=True)
            return False
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True


def write_stdout(chunks: Iterable[str]) -> None:
    """Write ``chunks`` to standard output and flush, so that a full disk or a file-size
    limit is an error here, not a message from the interpreter at exit."""
    try:
        sys.stdout.writelines(chunks)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:  # named, so that the one line says what could not be written
        raise OSError(exc.errno, reason(exc), "<stdout>") from None
