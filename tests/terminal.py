"""Reading what a process shows on a pseudo-terminal, for the progress tests."""

from __future__ import annotations

import os


def read_terminal(master: int) -> bytes:
    """Everything written to the terminal of ``master`` until its last writer closes it
    (Linux reports that as EIO, or as end of file). The caller closes ``master``."""
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the terminal's last writer is gone
            return seen
        if not chunk:
            return seen
        seen += chunk
