"""One rank of a small, fully deterministic data-parallel training run (gloo, CPU).

Run as ``python ddp_train.py --rank R --world N --init file://... --out DIR ...``, or
through ``run`` in a process forked from a server that imported torch already (the
tests do: importing torch takes seconds, forking a process that has it takes none).
The same seed gives bit-identical weights whatever the interruptions, because the
batch of each step is drawn from a generator seeded by (seed, step, rank) and the
model and optimizer state come back whole from the checkpoint.

Files written in ``--out``: ``started-R`` once training begins (holding the step it
starts from), ``progress-R`` (the last finished step), and by rank 0 ``result.json``
(resumed step, checkpoints written), ``final.pt`` (weights) and, with ``--reference``,
``hashes.json`` (weights per step).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from mlkube.runtime import EXIT_PREEMPTED, Checkpointer

WIDTH = 512  # two 512x1024 layers: 4 MiB of weights, 8 MiB with momentum
BATCH = 16


def weights_sha256(state: Mapping[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class Momentum:
    """SGD with momentum, by hand: torch.optim's first optimizer imports torch._dynamo,
    which costs seconds per process, and these tests start many processes."""

    def __init__(self, model: nn.Module, lr: float = 0.05, momentum: float = 0.9) -> None:
        self.params = dict(model.named_parameters())
        self.lr, self.momentum = lr, momentum
        self.buffers: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def step(self) -> None:
        for name, p in self.params.items():
            assert p.grad is not None
            if name in self.buffers:
                self.buffers[name].mul_(self.momentum).add_(p.grad)
            else:
                self.buffers[name] = p.grad.clone()
            p.add_(self.buffers[name], alpha=-self.lr)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.buffers

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.buffers = {name: t.clone() for name, t in state.items()}


def model_and_optimizer(seed: int) -> tuple[nn.Module, Momentum]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(WIDTH, 2 * WIDTH), nn.Tanh(), nn.Linear(2 * WIDTH, WIDTH))
    return model, Momentum(model)


def batch(seed: int, step: int, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step * 1_009 + rank)
    x = torch.randn(BATCH, WIDTH, generator=generator)
    return x, torch.sin(x)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rank", type=int, required=True)
    parser.add_argument("--world", type=int, required=True)
    parser.add_argument("--init", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--podinfo", type=Path)
    parser.add_argument("--interval", type=float)
    parser.add_argument("--check-every", type=int, default=1)
    parser.add_argument("--step-sleep", type=float, default=0.0)
    parser.add_argument("--reference", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, format=f"rank {args.rank} %(name)s: %(message)s")
    torch.set_num_threads(1)  # deterministic kernels, and the test machine has 2 cores
    dist.init_process_group(
        "gloo", init_method=args.init, rank=args.rank, world_size=args.world,
        timeout=timedelta(seconds=30),
    )  # fmt: skip
    model, optimizer = model_and_optimizer(args.seed)
    ckpt = None
    resumed: int | None = None
    if args.ckpt is not None:
        ckpt = Checkpointer(
            dir=args.ckpt,
            interval_seconds=args.interval,
            check_every=args.check_every,
            podinfo_dir=args.podinfo,
        )
        state = ckpt.resume()
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optim"])
            resumed = ckpt.last_step
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"started-{args.rank}").write_text(str(resumed or 0))
    code, saved, hashes = train(args, model, optimizer, ckpt, resumed or 0)
    if args.rank == 0:
        result = {"resumed": resumed, "saved": saved, "exit": code}
        (args.out / "result.json").write_text(json.dumps(result))
        if code == 0:
            torch.save(model.state_dict(), args.out / "final.pt")
        if args.reference:
            (args.out / "hashes.json").write_text(json.dumps(hashes))
    if ckpt is not None:
        ckpt.close()
    dist.destroy_process_group()
    return code


def train(
    args: argparse.Namespace,
    model: nn.Module,
    optimizer: Momentum,
    ckpt: Checkpointer | None,
    start: int,
) -> tuple[int, list[int], dict[int, str]]:
    """The loop as a user writes it: exit code, steps checkpointed, weights per step."""

    def snapshot() -> dict[str, Any]:
        return {"model": model.state_dict(), "optim": optimizer.state_dict()}

    saved: list[int] = []
    hashes: dict[int, str] = {0: weights_sha256(model.state_dict())}
    for step in range(start, args.steps):
        x, y = batch(args.seed, step, args.rank)
        model.zero_grad()
        torch.autograd.backward(nn.functional.mse_loss(model(x), y))
        for p in model.parameters():
            assert p.grad is not None
            dist.all_reduce(p.grad)
            p.grad.div_(args.world)
        optimizer.step()
        if args.reference and args.rank == 0:
            hashes[step + 1] = weights_sha256(model.state_dict())
        (args.out / f"progress-{args.rank}").write_text(str(step + 1))
        if ckpt is not None:
            if ckpt.step(step + 1, snapshot):
                saved.append(step + 1)
            if ckpt.should_stop:
                return EXIT_PREEMPTED, saved, hashes
        time.sleep(args.step_sleep)
    return 0, saved, hashes


def run(argv: list[str], log: str) -> None:
    """Entry point of a forked rank: output to ``log``, exit code from ``main``."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"  # bind to loopback only
    sys.exit(main(argv))


if __name__ == "__main__":
    sys.exit(main())
