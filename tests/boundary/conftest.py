from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the unprivileged user can enter (pytest's tmp_path is root's, 0700)."""
    root = Path(tempfile.mkdtemp(prefix="mlkube-fs-", dir="/tmp"))
    root.chmod(0o777)
    yield root
    for folder, dirs, _files in os.walk(root):
        for d in dirs:
            Path(folder, d).chmod(0o755)  # so that the tree can be removed
    shutil.rmtree(root)
