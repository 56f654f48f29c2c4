"""Readers for two public GPU-cluster traces, so a Platform can be planned against a real
workload rather than a made-up one. Each maps its file to ``TraceJob`` (docs/plan-formats.md).

Alibaba cluster-trace-gpu-v2023 (``openb_pod_list_*.csv`` in alibaba/clusterdata), one pod
a row: ``name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, qos, pod_phase,
creation_time, deletion_time, scheduled_time`` (seconds). A pod is a one-node job:
submit = creation_time - the first creation_time; duration = deletion_time -
scheduled_time (the time it ran; creation_time when never scheduled); gpus_per_node =
num_gpu (a GPU-sharing pod, ``gpu_milli`` < 1000, still holds one whole GPU in Kueue's
accounting); cpu = cpu_milli / 1000; memory = memory_mib MiB; team = qos; rows with
num_gpu 0 are skipped (the planner plans GPUs); ``gpu_spec`` is kept out (its models
are Alibaba's, not the Platform's pools).

Microsoft Philly ``cluster_job_log`` (msr-fiddle/philly-traces), a JSON array of jobs
(one object a line is accepted too): ``jobid, vc, user, status, submitted_time,
attempts[{start_time, end_time, detail[{ip, gpus}]}]``. submit = submitted_time - the
first submitted_time; duration = the last attempt's end - start (the run that finished;
the earlier ones were failures or preemptions, re-run from scratch); nodes = the
servers of that attempt, gpus_per_node = the most GPUs on one of them; team = vc. Jobs
with no attempt that has both times are skipped (the trace's notes: logging errors, or
still running at the snapshot).

Neither trace knows the Platform's namespaces, queues or PriorityClasses: every job gets
``namespace``/``queue`` from the arguments, and no priority.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime
from typing import Any, TextIO

from mlkube.errors import InputError
from mlkube.plan.types import TraceJob

ALIBABA_COLUMNS = (
    "name",
    "cpu_milli",
    "memory_mib",
    "num_gpu",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)
PHILLY_TIME = "%Y-%m-%d %H:%M:%S"
MIB = 1024 * 1024


def read_alibaba(
    path: str, *, namespace: str = "ml-training", queue: str = "training"
) -> list[TraceJob]:
    """The GPU pods of an ``openb_pod_list_*.csv`` file, as one-node jobs."""
    rows: list[tuple[int, dict[str, str]]] = []
    with _open(path) as f:
        reader = csv.DictReader(f)
        missing = [c for c in ALIBABA_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(path, 1, f"not an Alibaba openb pod CSV: no {', '.join(missing)}")
        for row in reader:
            rows.append((reader.line_num, row))
    jobs: list[tuple[float, int, dict[str, str]]] = []
    for line, row in rows:
        if _number(path, line, row, "num_gpu") > 0:
            jobs.append((_number(path, line, row, "creation_time"), line, row))
    start = min((created for created, _, _ in jobs), default=0.0)
    out = []
    for created, line, row in jobs:
        scheduled = created if not row.get("scheduled_time") else _number(
            path, line, row, "scheduled_time"
        )  # fmt: skip
        deleted = _number(path, line, row, "deletion_time")
        if deleted < scheduled:
            raise InputError(path, line, f"deletion_time {deleted:g} < {scheduled:g}")
        gpus = _number(path, line, row, "num_gpu")
        if gpus != int(gpus):
            raise InputError(path, line, f"num_gpu: {row['num_gpu']!r} is not a whole number")
        out.append(
            TraceJob(
                name=_name(path, line, row.get("name")),
                submit=created - start,
                namespace=namespace,
                queue=queue,
                nodes=1,
                gpus_per_node=int(gpus),
                duration=deleted - scheduled,
                priority=None,
                cpu=_number(path, line, row, "cpu_milli") / 1000,
                memory=_number(path, line, row, "memory_mib") * MIB,
                team=row.get("qos") or None,
                line=line,
            )
        )
    return out


def read_philly(
    path: str, *, namespace: str = "ml-training", queue: str = "training"
) -> list[TraceJob]:
    """The jobs of a Philly ``cluster_job_log`` that ran to an end, by their last attempt."""
    parsed: list[tuple[int, float, dict[str, Any], dict[str, Any]]] = []
    for line, job in _json_objects(path):
        if not isinstance(job, dict):
            raise InputError(path, line, "a job must be a JSON object")
        submitted = _time(path, line, job, "submitted_time")
        attempts = job.get("attempts")
        if not isinstance(attempts, list):
            raise InputError(path, line, "attempts: must be a list")
        done = [
            a for a in attempts if isinstance(a, dict) and a.get("start_time") and a.get("end_time")
        ]
        if done:
            parsed.append((line, submitted, job, done[-1]))
    start = min((s for _, s, _, _ in parsed), default=0.0)
    out = []
    for line, submitted, job, attempt in parsed:
        began = _time(path, line, attempt, "start_time")
        ended = _time(path, line, attempt, "end_time")
        if ended < began:
            raise InputError(path, line, f"attempt ends before it starts: {attempt['end_time']}")
        detail = attempt.get("detail")
        if not isinstance(detail, list) or not detail:
            raise InputError(path, line, "attempts[].detail: must name the servers it ran on")
        gpus = [len(d.get("gpus") or []) if isinstance(d, dict) else 0 for d in detail]
        out.append(
            TraceJob(
                name=_name(path, line, job.get("jobid")),
                submit=submitted - start,
                namespace=namespace,
                queue=queue,
                nodes=len(detail),
                gpus_per_node=max(gpus),
                duration=ended - began,
                priority=None,
                team=str(job["vc"]) if job.get("vc") else None,
                line=line,
            )
        )
    return out


def _open(path: str) -> TextIO:
    try:
        return open(path, newline="", encoding="utf-8")
    except OSError as e:
        raise InputError(path, 0, e.strerror or str(e)) from None


def _json_objects(path: str) -> list[tuple[int, Any]]:
    """Each job of a JSON array (how Philly ships it) or of JSON lines, with its line;
    the whole file parsed first, so a syntax error is reported before any field."""
    with _open(path) as f:
        try:
            text = f.read()
        except UnicodeDecodeError as e:
            raise InputError(path, 0, f"not UTF-8: {e.reason}") from None
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    array = text.startswith("[", pos)
    if array:
        pos = _skip(text, pos + 1)
    out = []
    while pos < len(text) and not (array and text[pos] == "]"):
        line = text.count("\n", 0, pos) + 1
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise InputError(path, text.count("\n", 0, e.pos) + 1, f"bad JSON: {e.msg}") from None
        out.append((line, obj))
        pos = _skip(text, pos)
        if array and text.startswith(",", pos):
            pos = _skip(text, pos + 1)
        elif array and not text.startswith("]", pos):
            raise InputError(path, text.count("\n", 0, pos) + 1, "bad JSON: expected ',' or ']'")
    if array and not text.startswith("]", pos):
        raise InputError(path, text.count("\n") + 1, "bad JSON: the array is not closed")
    return out


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _number(path: str, line: int, row: dict[str, str], column: str) -> float:
    raw = row.get(column)
    try:
        value = float(raw or "")
    except ValueError:
        raise InputError(path, line, f"{column}: {raw!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(path, line, f"{column}: {raw!r} must be a finite number >= 0")
    return value


def _time(path: str, line: int, obj: dict[str, Any], key: str) -> float:
    raw = obj.get(key)
    try:
        # as UTC: differences only, and no daylight-saving jump of the reading machine
        return datetime.strptime(str(raw), PHILLY_TIME).replace(tzinfo=UTC).timestamp()
    except ValueError:
        msg = f"{key}: {raw!r} is not a time like 2017-10-07 01:11:39"
        raise InputError(path, line, msg) from None


def _name(path: str, line: int, name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InputError(path, line, "a job needs a name (name / jobid)")
    return name.strip()


# --trace-format name → reader (the lead wires these into plan.trace.FORMATS)
FORMATS = {"alibaba": read_alibaba, "philly": read_philly}
