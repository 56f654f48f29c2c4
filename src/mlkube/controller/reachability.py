"""Is the API server still answering? A probe of ``/version`` (readable by every
client, cheap for the server) every few seconds, each with its own timeout, so the
controller can tell "no answer for this long" from "a quiet cluster with nothing to
watch", and exit (code 3) instead of relisting forever against a server that is gone.
"""

from __future__ import annotations

import logging
import threading
import time

from mlkube.cluster.client import ApiError, Kube
from mlkube.errors import MlkubeError, Unreachable

log = logging.getLogger("mlkube.controller")


class Reachability:
    def __init__(self, kube: Kube, give_up_seconds: float, every: float = 5.0) -> None:
        self.kube = kube
        self.give_up_seconds = give_up_seconds
        self.every = min(every, give_up_seconds / 3)
        self.last_answer = time.monotonic()
        self.last_error = ""
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="reachability", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> None:
        """Raise Unreachable when the server has not answered for ``give_up_seconds``."""
        silent = time.monotonic() - self.last_answer
        if silent >= self.give_up_seconds:
            connection = self.kube.connection
            what = self.last_error or (
                f"the API server at {connection.server} (context {connection.context!r}) "
                "does not answer"
            )
            raise Unreachable(
                f"{what}; no answer for {silent:.0f} s, giving up: check the server and "
                "the network, then start the controller again"
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.kube.request("GET", "/version", timeout=self.every)
            except ApiError:
                self.last_answer = time.monotonic()  # an error status is still an answer
            except MlkubeError as exc:
                if str(exc) != self.last_error:
                    log.warning("API server not answering: %s", exc)
                self.last_error = str(exc)
            else:
                self.last_answer = time.monotonic()
                self.last_error = ""
            self._stop.wait(self.every)
