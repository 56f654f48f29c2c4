"""What the packaging tests need from the machine: a tool that is missing skips the test
on a developer's machine, and fails it in CI (``CI=true``), where ``make system-packages``
installs every one of them from Debian's packages."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mlkube.localcluster.binaries import locate


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    hint = f"{', '.join(missing)} not installed: `make system-packages` installs it"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{hint} (and CI runs it)")
    pytest.skip(hint)


def built(component: str, binary: str) -> Path:
    """A binary of a tools/build.sh component (``make binaries`` builds them all)."""
    found = locate((component,))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{binary} is not built: run tools/build.sh {component}")
        pytest.skip(f"{binary} is not built yet (tools/build.sh {component})")
    return Path(found[binary])
