"""Progress a person can follow, on one line of a terminal: what, how far, and the time
left. Shown only when stderr is a terminal: piped or redirected (CI, ``2>log``), the
output is what it always was, so that nothing parsing it sees a carriage return.

``MLKUBE_PROGRESS=0`` turns it off on a terminal too; ``MLKUBE_PROGRESS=1`` turns it
on anywhere (tests, and a terminal multiplexer that is not seen as a TTY)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from mlkube.errors import MlkubeError

if TYPE_CHECKING:
    from mlkube.manifests.yamlstream import Document

# At most this many redraws a second: a 50 MB lint has 100,000 documents.
_EVERY = 0.1
# Before this long, nothing is drawn: a fast run shows no flicker.
_AFTER = 0.5


def wanted(stream: TextIO | None = None) -> bool:
    setting = os.environ.get("MLKUBE_PROGRESS", "")
    if setting in ("0", "1"):
        return setting == "1"
    stream = stream if stream is not None else sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a file
        return False


def remaining(done: float, total: float, elapsed: float) -> float | None:
    """Seconds left at the rate so far (None until there is a rate to go by)."""
    if done <= 0 or total <= 0 or elapsed <= 0:
        return None
    return max(0.0, elapsed * (total - done) / done)


def clock(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _size(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


class Progress:
    """``with Progress("lint", total=bytes) as p: p.update(done, "12,345 objects")``.

    ``total`` in the unit of ``done`` (bytes here: shown as MB); None when unknown
    (standard input), then only how far, and the rate, are shown."""

    def __init__(
        self,
        what: str,
        total: float | None = None,
        *,
        stream: TextIO | None = None,
        now: Callable[[], float] = time.monotonic,
        unit: Callable[[float], str] = _size,
        rate: bool = True,
    ) -> None:
        self.what, self.total, self.now, self.unit = what, total, now, unit
        self.rate = rate  # with no total, show done/second
        self.stream = stream if stream is not None else sys.stderr
        self.on = wanted(self.stream)
        self.started = now()
        self.drawn = 0.0
        self.shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.clear()

    def line(self, done: float, detail: str = "") -> str:
        elapsed = self.now() - self.started
        parts = [f"{self.what}: {self.unit(done)}"]
        if self.total:
            parts[0] += f" of {self.unit(self.total)} ({min(done / self.total, 1.0):.0%})"
            left = remaining(done, self.total, elapsed)
            if left is not None:
                parts.append(f"about {clock(left)} left")
        elif self.rate and elapsed > 0:
            parts.append(f"{self.unit(done / elapsed)}/s")
        if detail:
            parts.append(detail)
        return ", ".join(parts)

    def update(self, done: float, detail: str = "") -> None:
        if not self.on:
            return
        t = self.now()
        if t - self.started < _AFTER or t - self.drawn < _EVERY:
            return
        self.drawn = t
        self.stream.write(f"\r\033[K{self.line(done, detail)}")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Take the line away (what comes next is printed where it was)."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False


class Reading:
    """Progress through YAML inputs, fed one document at a time (`seen`): bytes read of
    the files' total size (a document's end in its file), and documents so far."""

    def __init__(self, paths: list[str], what: str = "read", stream: TextIO | None = None) -> None:
        self.ends: dict[str, int] = {}
        self.count = 0
        self.progress = Progress(what, None, stream=stream)
        if self.progress.on:
            self.progress.total = _total_size(paths)

    def __enter__(self) -> Callable[[Document], None]:
        return self.seen

    def __exit__(self, *exc: object) -> None:
        self.progress.clear()

    def seen(self, doc: Document) -> None:
        self.count += 1
        if not self.progress.on:
            return
        self.ends[doc.source] = max(self.ends.get(doc.source, 0), doc.node.end_mark.index)
        self.progress.update(sum(self.ends.values()), f"{self.count:,} documents")


def _total_size(paths: list[str]) -> float | None:
    """The files' sizes added up; None when one is standard input or cannot be sized."""
    from mlkube.manifests.yamlstream import expand_path  # noqa: PLC0415 - on a terminal only

    total = 0
    for raw in paths:
        if raw == "-":
            return None
        try:
            total += sum(p.stat().st_size for p in expand_path(raw))
        except (OSError, MlkubeError):  # the reading itself will say what is wrong
            return None
    return float(total)
