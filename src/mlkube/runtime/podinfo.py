"""The pod's own annotations, as the kubelet projects them into a downwardAPI volume.

The kubelet writes one ``key="value"`` line per annotation, sorted by key, each value
quoted by Go's ``strconv.Quote``. It replaces the file by swapping the volume's
``..data`` symlink to a new directory, so a changed file is a changed inode: one
``stat`` per check tells whether anything needs reading, cheap enough for every step.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from mlkube.wellknown import CHECKPOINT_REQUEST_ANNOTATION, PODINFO_DIR

log = logging.getLogger(__name__)

REQUEST_ANNOTATION = CHECKPOINT_REQUEST_ANNOTATION
DEFAULT_PODINFO_DIR = PODINFO_DIR
ANNOTATIONS_FILE = "annotations"
# What the controller writes: a short token, safe in logs, file names and JSON.
REQUEST_ID = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")

_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
_HEX = {"x": 2, "u": 4, "U": 8}


def unquote_go(quoted: str) -> str:
    """The string a Go double-quoted literal stands for (as ``strconv.Unquote``).

    Raises ValueError on anything ``strconv.Quote`` could not have written.
    """
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        raise ValueError("not a double-quoted string")
    body, out, i = quoted[1:-1], bytearray(), 0
    while i < len(body):
        char = body[i]
        if char == '"':
            raise ValueError("unescaped quote")
        if char != "\\":
            out += char.encode()
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("backslash at the end")
        kind = body[i + 1]
        if kind in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[kind])
            i += 2
        elif kind in _HEX:
            digits = body[i + 2 : i + 2 + _HEX[kind]]
            if len(digits) != _HEX[kind] or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(f"bad \\{kind} escape")
            value = int(digits, 16)
            if kind == "x":
                out.append(value)
            elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise ValueError(f"\\{kind}{digits} is not a Unicode scalar value")
            else:
                out += chr(value).encode()
            i += 2 + _HEX[kind]
        elif kind in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
                raise ValueError("bad octal escape")
            out.append(int(digits, 8))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{kind}")
    return out.decode("utf-8", errors="replace")


def parse_annotations(text: str) -> dict[str, str]:
    """Annotations from the downwardAPI file; a line that does not parse is skipped."""
    annotations: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        key, sep, quoted = line.partition("=")
        try:
            if not sep or not key:
                raise ValueError("no key=")
            annotations[key] = unquote_go(quoted)
        except ValueError as exc:
            log.debug("annotations line %d skipped: %s", number, exc)
    return annotations


_StatKey = tuple[int, int, int, int, int]


class AnnotationsFile:
    """The annotations file, re-read only when ``stat`` says it changed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._key: _StatKey | None = None
        self._annotations: dict[str, str] = {}

    def read(self) -> dict[str, str]:
        """The current annotations; empty when the file is missing (no volume, or local runs)."""
        try:
            st = os.stat(self.path)  # follows annotations -> ..data/annotations
        except OSError:
            self._key, self._annotations = None, {}
            return self._annotations
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if key == self._key:
            return self._annotations
        try:
            text = self.path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return self._annotations  # swapped away between stat and open: next check
        # Stat came first, so a swap in between costs one more read, never a stale value.
        self._key, self._annotations = key, parse_annotations(text)
        return self._annotations


class RequestWatcher:
    """The checkpoint request the controller has put on this pod, if any."""

    def __init__(self, podinfo_dir: str | os.PathLike[str]) -> None:
        self.file = AnnotationsFile(Path(podinfo_dir) / ANNOTATIONS_FILE)
        self._warned: set[str] = set()

    def current(self) -> str | None:
        """The request id now on the pod, or None; ids outside the contract are ignored."""
        value = self.file.read().get(REQUEST_ANNOTATION, "").strip()
        if not value:
            return None
        if not REQUEST_ID.match(value):
            if value not in self._warned:
                self._warned.add(value)
                log.warning(
                    "ignoring %s=%r: not a request id ([a-z0-9.-])", REQUEST_ANNOTATION, value
                )
            return None
        return value
