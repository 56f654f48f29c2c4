"""SIGTERM as a flag: the backstop when the annotation arrives late or not at all.

Python runs a signal handler between two bytecodes of the main thread, possibly in the
middle of the training loop's own code; a handler that wrote a checkpoint there could
catch the model half-updated. So the handler only sets a flag, and the checkpoint
happens at the next step boundary where every rank agrees on it.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class SigtermFlag:
    """Set once SIGTERM arrives; ``install`` replaces the default (die at once)."""

    def __init__(self) -> None:
        self._set = False
        self._installed = False
        self._previous: _Handler = None

    @property
    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        """What the handler does; also for a caller that learns of termination otherwise."""
        self._set = True

    def install(self) -> bool:
        """Handle SIGTERM from now on; False where Python cannot (outside the main thread)."""
        if self._installed:
            return True
        if threading.current_thread() is not threading.main_thread():
            log.warning("SIGTERM not handled: signal handlers can only be set in the main thread")
            return False
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        self._installed = True
        return True

    def uninstall(self) -> None:
        """Put back the handler that was there before ``install``."""
        if not self._installed:
            return
        previous = self._previous if self._previous is not None else signal.SIG_DFL
        signal.signal(signal.SIGTERM, previous)
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._set = True
