"""What the kubelet does to a downwardAPI volume, for tests: Go-quoted ``key="value"``
lines in a timestamped directory, published by swapping the ``..data`` symlink.

`project` is a quick port used by the tests that only need annotations delivered;
`real_project` runs the kubelet's own code (tools/kubelet-writer: AtomicWriter and
fieldpath.FormatMap, built from the Kubernetes module), and test_podinfo holds the port
to it and the runtime's reader to both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t",
            "\v": r"\v", "\\": r"\\", '"': r"\""}  # fmt: skip


def go_quote(value: str) -> str:
    """Go's strconv.Quote, for the characters tests use."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def project(podinfo: Path, annotations: dict[str, str]) -> None:
    """Publish ``annotations`` the way the kubelet's atomic writer does."""
    podinfo.mkdir(parents=True, exist_ok=True)
    # fieldpath.FormatMap: one line a key, sorted, and no newline after the last one
    text = "\n".join(f"{k}={go_quote(v)}" for k, v in sorted(annotations.items()))
    version = podinfo / f"..{time.time_ns()}"
    version.mkdir()
    (version / "annotations").write_text(text)
    link = podinfo / "..data_tmp"
    link.unlink(missing_ok=True)
    os.symlink(version.name, link)
    previous = os.readlink(podinfo / "..data") if (podinfo / "..data").is_symlink() else None
    os.replace(link, podinfo / "..data")
    if not (podinfo / "annotations").is_symlink():
        os.symlink("..data/annotations", podinfo / "annotations")
    if previous:
        shutil.rmtree(podinfo / previous)


def real_project(writer: Path, podinfo: Path, annotations: dict[str, str]) -> None:
    """Publish ``annotations`` with the kubelet's own atomic writer, built from source."""
    podinfo.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(writer), str(podinfo)], input=json.dumps(annotations).encode(), check=True)
