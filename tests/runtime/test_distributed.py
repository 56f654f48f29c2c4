"""Real torch.distributed (gloo on CPU, two OS processes per run): a preempted run
resumes to bit-identical weights, and ``kill -9`` at any moment never leaves a
checkpoint that resume would accept but that differs from the uninterrupted run.

Ranks are forked from a multiprocessing forkserver that imported torch once: each
process is a real, separate OS process that can be signalled and SIGKILLed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest
import torch

from mlkube.runtime import REQUEST_ANNOTATION, LocalStore, TorchSerializer, checkpoints
from mlkube.runtime.errors import CorruptCheckpointError
from mlkube.runtime.manifest import Manifest, manifest_name, parse_name
from mlkube.wait import WaitTimeout, until

from . import ddp_train
from .conftest import PRELOAD
from .kubelet import project

STEPS = 30
SEED = 7
WORLD = 2
REQUEST_ID = "r-0123456789ab"


@dataclass
class Run:
    out: Path
    ranks: list[BaseProcess]
    closed: bool = False

    def wait(self, timeout: float = 60) -> list[int | None]:
        deadline = time.monotonic() + timeout
        for rank in self.ranks:
            rank.join(max(0.0, deadline - time.monotonic()))
        return [rank.exitcode for rank in self.ranks]

    def kill(self) -> None:
        if self.closed:
            return
        self.closed = True
        for rank in self.ranks:
            if rank.is_alive():
                rank.kill()
            rank.join(10)
            rank.close()

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.out.glob("log-*")))

    def progress(self, rank: int = 0) -> int:
        try:
            return int((self.out / f"progress-{rank}").read_text())
        except (OSError, ValueError):
            return 0

    def reached(self, step: int) -> bool:
        return self.progress(0) >= step

    def start(self) -> int:
        return int((self.out / "started-0").read_text())

    def started(self) -> bool:
        files = [self.out / f"started-{r}" for r in range(WORLD)]
        return all(f.exists() and f.stat().st_size for f in files)

    def result(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.out / "result.json").read_text())
        return loaded


@dataclass
class Reference:
    hashes: dict[int, str]
    final: dict[str, torch.Tensor]


@pytest.fixture(scope="module")
def forkserver() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # started early by conftest, if collected
    return context


@pytest.fixture(scope="module")
def launch(
    forkserver: ForkServerContext, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []
    root = tmp_path_factory.mktemp("runs")

    def launch(name: str, *options: str, podinfo: list[Path] | None = None) -> Run:
        out = root / name
        out.mkdir()
        init = f"file://{root / name}.rendezvous"
        ranks: list[BaseProcess] = []
        for rank in range(WORLD):
            argv = ["--rank", str(rank), "--world", str(WORLD), "--init", init]
            argv += ["--out", str(out), "--steps", str(STEPS), "--seed", str(SEED), *options]
            if podinfo:
                argv += ["--podinfo", str(podinfo[rank])]
            process = forkserver.Process(
                target=ddp_train.run, args=(argv, str(out / f"log-{rank}"))
            )
            process.start()
            ranks.append(process)
        runs.append(Run(out, ranks))
        return runs[-1]

    yield launch
    for run in runs:
        run.kill()


def _wait_for(what: str, condition: Callable[[], object], run: Run, timeout: float = 30) -> None:
    def met() -> bool | None:
        if condition():
            return True
        if not all(r.is_alive() for r in run.ranks):
            pytest.fail(f"a rank ended while waiting for {what}\n{run.logs()}")
        return None

    try:
        until(what, met, timeout=timeout, every=0.005)
    except WaitTimeout:
        pytest.fail(f"gave up waiting for {what}\n{run.logs()}")


@pytest.fixture(scope="module")
def reference(launch: Callable[..., Run]) -> Reference:
    run = launch("reference", "--reference")
    assert run.wait() == [0, 0], run.logs()
    hashes = {int(k): v for k, v in json.loads((run.out / "hashes.json").read_text()).items()}
    return Reference(hashes, torch.load(run.out / "final.pt", weights_only=True))


def _assert_same_weights(path: Path, reference: Reference) -> None:
    final = torch.load(path, weights_only=True)
    assert final.keys() == reference.final.keys()
    for name, tensor in final.items():
        assert torch.equal(tensor, reference.final[name]), name


def test_preempted_run_resumes_to_the_same_weights(
    launch: Callable[..., Run], reference: Reference, tmp_path: Path
) -> None:
    ckpt, pods = tmp_path / "ckpt", [tmp_path / "pod-0", tmp_path / "pod-1"]
    run = launch("preempted", "--ckpt", str(ckpt), "--step-sleep", "0.1", podinfo=pods)
    store = LocalStore(ckpt)

    def answered() -> int | None:
        for step in checkpoints.steps(store):
            if REQUEST_ID in Manifest.from_json(store.get(manifest_name(step))).requests:
                return step
        return None

    _wait_for("training", lambda: run.progress(0) >= 3, run)
    # The controller annotates rank 1's pod first: rank 0 has seen nothing, yet the
    # ranks agree, and rank 0 writes the checkpoint at the same step.
    project(pods[1], {REQUEST_ANNOTATION: REQUEST_ID})
    _wait_for("the requested checkpoint", answered, run)
    requested = answered()
    assert requested is not None
    project(pods[0], {REQUEST_ANNOTATION: REQUEST_ID})  # the same request: answered already
    _wait_for("more steps", lambda: run.progress(0) >= requested + 3, run)
    run.ranks[1].terminate()  # SIGTERM to one rank: its node is going away
    assert run.wait() == [143, 143], run.logs()

    saved = run.result()["saved"]
    assert saved[0] == requested
    assert len(saved) == 2, saved
    stopped = saved[1]
    assert stopped >= requested + 3
    assert checkpoints.steps(store) == [stopped, requested]

    # The job restarts (restartPolicy ExitCode: 143 is retryable); the annotation is
    # still on the pods and must not be answered again.
    resumed = launch("resumed", "--ckpt", str(ckpt), podinfo=pods)
    assert resumed.wait() == [0, 0], resumed.logs()
    assert resumed.result() == {"resumed": stopped, "saved": [], "exit": 0}
    _assert_same_weights(resumed.out / "final.pt", reference)


def test_kill_9_never_leaves_an_acceptable_bad_checkpoint(
    launch: Callable[..., Run], reference: Reference, tmp_path: Path
) -> None:
    seed = int(os.environ.get("MLKUBE_KILL_SEED") or random.randrange(2**32))
    print(f"kill seed {seed}: rerun with MLKUBE_KILL_SEED={seed}")
    rng = random.Random(seed)
    ckpt = tmp_path / "ckpt"
    store = LocalStore(ckpt)
    for iteration in range(4):
        options = ["--ckpt", str(ckpt), "--interval", "0", "--check-every", str(1 + iteration % 2)]
        run = launch(f"kill-{iteration}", *options)
        _wait_for("both ranks", run.started, run)
        if iteration == 0:
            victim, target, delay = 0, run.start(), 0.0
            _kill_mid_write(run, ckpt)
            assert any(ckpt.glob("*.ckpt.tmp-*"))  # left behind, half written
        else:
            # A moment within the run: a few steps on, then a random fraction of a step.
            victim, delay = rng.randrange(WORLD), rng.uniform(0.0, 0.1)
            target = min(run.start() + rng.randint(1, 5), STEPS - 2)
            _wait_for(f"step {target}", partial(run.reached, target), run)
            time.sleep(delay)
            run.ranks[victim].kill()
        killed = time.monotonic()
        run.ranks[victim].join(10)
        codes = run.wait(timeout=45)
        survivor = time.monotonic() - killed
        run.kill()
        print(f"iteration {iteration}: SIGKILL rank {victim} at step {target} + {delay:.3f} s; "
              f"exit codes {codes}, the other rank gone {survivor:.2f} s later")  # fmt: skip
        assert codes[victim] == -signal.SIGKILL
        _verify(store, reference)

    final = launch("kill-final", "--ckpt", str(ckpt), "--interval", "0")
    assert final.wait() == [0, 0], final.logs()
    assert not list(ckpt.glob("*.tmp-*"))  # rank 0 removed the leftovers on resume
    _assert_same_weights(final.out / "final.pt", reference)


def _kill_mid_write(run: Run, ckpt: Path) -> None:
    """SIGKILL rank 0 while a data file is half written: freeze it when a temporary file
    shows up, and kill it only if the file is still there (not renamed in between)."""
    rank0 = run.ranks[0].pid
    assert rank0 is not None
    while True:
        _wait_for("a write in progress", lambda: any(ckpt.glob("*.ckpt.tmp-*")), run)
        os.kill(rank0, signal.SIGSTOP)
        if any(ckpt.glob("*.ckpt.tmp-*")):
            os.kill(rank0, signal.SIGKILL)
            return
        os.kill(rank0, signal.SIGCONT)


def _verify(store: LocalStore, reference: Reference) -> None:
    """Every checkpoint resume would accept holds exactly the reference weights of its
    step; nothing without a manifest is accepted."""
    serializer = TorchSerializer()
    accepted = []
    for step in checkpoints.steps(store):
        _, data = checkpoints.read(store, step)  # a manifest implies whole data: no kill tears it
        state = serializer.loads(data)
        assert ddp_train.weights_sha256(state["model"]) == reference.hashes[step], step
        accepted.append(step)
    for name in store.names():
        parsed = parse_name(name)
        if parsed is not None and parsed[0] not in accepted:
            with pytest.raises(CorruptCheckpointError, match="no manifest"):
                checkpoints.read(store, parsed[0])
    newest = checkpoints.newest(store)
    assert (newest[0].step if newest else None) == (max(accepted) if accepted else None)
