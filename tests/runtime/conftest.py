from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver
from pathlib import Path

# The distributed tests fork their ranks from a server that imports torch once. Start
# it as soon as their module is about to be collected, so that its import of torch runs
# alongside the test process's own.
PRELOAD = ["torch", "torch.distributed", "numpy", "mlkube.runtime"]


def pytest_collect_file(file_path: Path) -> None:
    if file_path.name == "test_distributed.py":
        multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
        forkserver.ensure_running()
