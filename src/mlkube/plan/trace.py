"""Reading job traces (CSV, JSONL) into `TraceJob`s, and checking them against a
Platform: a bad row is one `InputError` naming the file and line, never a traceback or
a silently skipped job. Formats are a plain registry so that other readers (public
cluster traces) are one entry each."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from mlkube.errors import InputError, UsageError
from mlkube.plan.formats import FORMATS as PUBLIC_FORMATS
from mlkube.plan.model import Model
from mlkube.plan.types import TraceJob
from mlkube.quantity import quantity

REQUIRED = ("name", "submit", "namespace", "queue", "nodes", "gpus_per_node", "duration")
OPTIONAL = (
    "priority",
    "pool",
    "gpu",
    "cpu",
    "memory",
    "spot",
    "checkpoint_interval",
    "team",
)
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}


def _rows_csv(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames
        if fields is None:
            return
        missing = [c for c in REQUIRED if c not in fields]
        if missing:
            raise InputError(path, 1, f"missing column(s): {', '.join(missing)}")
        unknown = [c for c in fields if c not in REQUIRED and c not in OPTIONAL]
        if unknown:
            raise InputError(path, 1, f"unknown column {unknown[0]!r}")
        for row in reader:
            if None in row:
                raise InputError(path, reader.line_num, "more values than columns")
            yield reader.line_num, row


def _rows_jsonl(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(path, number, f"not JSON: {exc.msg}") from None
            if not isinstance(obj, dict):
                raise InputError(path, number, "expected one JSON object per line")
            unknown = [k for k in obj if k not in REQUIRED and k not in OPTIONAL]
            if unknown:
                raise InputError(path, number, f"unknown field {str(unknown[0])[:40]!r}")
            yield number, obj


def _number(path: str, line: int, key: str, value: Any, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool):
        raise InputError(path, line, f"{key}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(path, line, f"{key}: expected a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(number) or number < minimum:
        raise InputError(path, line, f"{key}: must be a finite number >= {minimum:g}")
    return number


def _count(path: str, line: int, key: str, value: Any, minimum: int) -> int:
    number = _number(path, line, key, value, minimum=minimum)
    if number != int(number):
        raise InputError(path, line, f"{key}: expected a whole number, got {value!r}")
    return int(number)


def _quantity(path: str, line: int, key: str, value: Any) -> float:
    if value is None or value == "":
        return 0.0
    exact = quantity(value if isinstance(value, str | int | float) else str(value))
    if exact is None or exact < 0 or isinstance(value, bool):
        raise InputError(path, line, f"{key}: {str(value)[:40]!r} is not a Kubernetes quantity")
    return float(exact)


def _text(row: dict[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    return str(value)


def _job(path: str, line: int, row: dict[str, Any]) -> TraceJob:
    for key in REQUIRED:
        if row.get(key) in (None, ""):
            raise InputError(path, line, f"{key}: missing")
    spot = row.get("spot")
    if isinstance(spot, str):
        if spot.lower() not in _TRUE | _FALSE:
            raise InputError(path, line, f"spot: expected true or false, got {spot[:40]!r}")
        spot = spot.lower() in _TRUE
    elif spot is not None and not isinstance(spot, bool):
        raise InputError(path, line, f"spot: expected true or false, got {spot!r}")
    interval = row.get("checkpoint_interval")
    checkpoint = (
        None
        if interval in (None, "")
        else _number(path, line, "checkpoint_interval", interval, minimum=1e-9)
    )
    return TraceJob(
        name=str(row["name"]),
        submit=_number(path, line, "submit", row["submit"]),
        namespace=str(row["namespace"]),
        queue=str(row["queue"]),
        nodes=_count(path, line, "nodes", row["nodes"], 1),
        gpus_per_node=_count(path, line, "gpus_per_node", row["gpus_per_node"], 0),
        duration=_number(path, line, "duration", row["duration"]),
        priority=_text(row, "priority"),
        pool=_text(row, "pool"),
        gpu=_text(row, "gpu"),
        cpu=_quantity(path, line, "cpu", row.get("cpu")),
        memory=_quantity(path, line, "memory", row.get("memory")),
        spot=bool(spot),
        checkpoint_interval=checkpoint,
        team=_text(row, "team"),
        line=line,
    )


# Told the line reached every this many rows (progress on a terminal).
SEEN_EVERY = 4096
Seen = Callable[[int], None]


def _guarded(
    path: str, rows: Iterator[tuple[int, dict[str, Any]]], seen: Seen | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """A file that is not text (binary, not UTF-8, NUL bytes) is bad input, not a crash."""
    line = 0
    try:
        for count, (line, row) in enumerate(rows, 1):
            if seen is not None and count % SEEN_EVERY == 0:
                seen(line)
            yield line, row
    except UnicodeDecodeError:
        raise InputError(path, line + 1, "not UTF-8 text") from None
    except csv.Error as exc:
        raise InputError(path, line + 1, f"not CSV: {exc}") from None


class _Counted(Protocol):
    """A reader that tells how far it is (``told``), every `SEEN_EVERY` rows."""

    def __call__(self, path: str, told: Seen | None = None) -> list[TraceJob]: ...


def _reader(
    rows: Callable[[str], Iterable[tuple[int, dict[str, Any]]]],
) -> _Counted:
    def read(path: str, told: Seen | None = None) -> list[TraceJob]:
        jobs = [_job(path, line, row) for line, row in _guarded(path, iter(rows(path)), told)]
        seen: dict[str, int] = {}
        for job in jobs:
            if job.name in seen:
                raise InputError(
                    path,
                    job.line,
                    f"job {job.name[:60]!r} given twice (first on line {seen[job.name]})",
                )
            seen[job.name] = job.line
        return jobs

    return read


# The formats that can tell how far they have read (``seen``).
_COUNTED: dict[str, _Counted] = {
    "csv": _reader(_rows_csv),
    "jsonl": _reader(_rows_jsonl),
}
FORMATS: dict[str, Callable[[str], list[TraceJob]]] = {
    **_COUNTED,
    **PUBLIC_FORMATS,  # the Alibaba GPU trace and the Philly job log
}


def detect(path: str) -> str:
    """The format a path's name says: ``.jsonl``/``.ndjson``/``.json`` is JSONL, else CSV."""
    lower = path.lower()
    return "jsonl" if lower.endswith((".jsonl", ".ndjson", ".json")) else "csv"


def read_trace(path: str, fmt: str = "auto", seen: Seen | None = None) -> list[TraceJob]:
    """The trace's jobs, in file order. ``seen`` is told the line reached, every
    `SEEN_EVERY` rows (CSV and JSONL; the public formats do not tell)."""
    name = detect(path) if fmt == "auto" else fmt
    reader = FORMATS.get(name)
    if reader is None:
        raise UsageError(f"unknown trace format {fmt!r} (one of auto, {', '.join(FORMATS)})")
    counted = _COUNTED.get(name)
    return counted(path, seen) if counted is not None else reader(path)


def validate(jobs: Iterable[TraceJob], model: Model, source: str) -> None:
    """Every job names things the Platform has: a namespace, a LocalQueue there, a
    PriorityClass, a pool (or a GPU model some pool has) that its ClusterQueue uses,
    and one that is not spot unless the job may run on spot."""
    models = {p.gpu_model for p in model.pools.values()}
    for job in jobs:
        where = f"job {job.name[:60]!r}"
        if job.namespace not in model.namespaces:
            raise InputError(source, job.line, f"{where}: unknown namespace {job.namespace!r}")
        cq = model.local_queues.get((job.namespace, job.queue))
        if cq is None:
            raise InputError(
                source,
                job.line,
                f"{where}: no queue {job.queue!r} serves namespace {job.namespace!r}",
            )
        if job.priority is not None and job.priority not in model.priorities:
            raise InputError(source, job.line, f"{where}: unknown priority class {job.priority!r}")
        if job.pool is not None:
            if job.pool not in model.pools:
                raise InputError(source, job.line, f"{where}: unknown pool {job.pool!r}")
            if job.pool not in {f.pool for f in model.queues[cq].flavors}:
                raise InputError(
                    source,
                    job.line,
                    f"{where}: queue {job.queue!r} has no flavor for pool {job.pool!r}",
                )
        if job.gpu is not None and job.gpu not in models:
            raise InputError(source, job.line, f"{where}: no pool has GPU model {job.gpu!r}")
        pools = [
            model.pools[f.pool]
            for f in model.queues[cq].flavors
            if (job.pool is None or f.pool == job.pool)
            and (job.gpu is None or model.pools[f.pool].gpu_model == job.gpu)
        ]
        if not job.spot and pools and all(p.spot for p in pools):
            # Kueue would hold it forever: render refuses a spot pool to a job without
            # `spot: true`, and the queue offers nothing else.
            names = ", ".join(p.name for p in pools)
            raise InputError(
                source,
                job.line,
                f"{where}: spot is false but queue {job.queue!r} can run it only on spot"
                f" ({names}); set spot to true or use another queue",
            )
