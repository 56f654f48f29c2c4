"""Trace files: every column read, every bad row one InputError naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.errors import InputError, UsageError
from mlkube.plan.model import Model, build_model
from mlkube.plan.trace import FORMATS, read_trace, validate
from mlkube.spec.load import load_platform
from mlkube.spec.models import Platform

from ..conftest import EXAMPLES
from .helpers import platform, pool

HEADER = "name,submit,namespace,queue,nodes,gpus_per_node,duration,priority\n"


def example_model() -> Model:
    spec = load_platform(str(EXAMPLES / "platform.yaml")).spec
    assert isinstance(spec, Platform)
    return build_model(spec)


def test_csv_with_every_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "name,submit,namespace,queue,nodes,gpus_per_node,duration,priority,pool,cpu,memory,"
        "spot,checkpoint_interval,team\n"
        "a,1.5,ml-training,training,2,8,3600,ml-training-high,a100-spot,500m,64Gi,true,600,llm\n"
    )
    (job,) = read_trace(str(path))
    assert (job.name, job.submit, job.nodes, job.gpus_per_node, job.duration) == (
        "a",
        1.5,
        2,
        8,
        3600,
    )
    assert (job.pool, job.cpu, job.memory, job.spot) == ("a100-spot", 0.5, 64 * 2**30, True)
    assert (job.checkpoint_interval, job.team, job.line) == (600, "llm", 2)
    validate([job], example_model(), str(path))


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"name": "a", "submit": 0, "namespace": "ml-training", "queue": "research",'
        ' "nodes": 1, "gpus_per_node": 4, "duration": 60, "priority": null, "spot": true}\n\n'
        '{"name": "b", "submit": 5, "namespace": "ml-training", "queue": "research",'
        ' "nodes": 1, "gpus_per_node": 4, "duration": 60, "gpu": "NVIDIA-A100-SXM4-80GB"}\n'
    )
    a, b = read_trace(str(path))
    assert a.priority is None and a.spot and b.line == 3 and b.gpu == "NVIDIA-A100-SXM4-80GB"
    validate([a, b], example_model(), str(path))


def test_the_example_trace_is_valid() -> None:
    path = str(EXAMPLES / "trace.csv")
    jobs = read_trace(path)
    assert len(jobs) >= 10
    validate(jobs, example_model(), path)


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("a,0,ml-training,training,1,x,60,\n", "gpus_per_node: expected a number"),
        ("a,0,ml-training,training,0,8,60,\n", "nodes: must be"),
        ("a,-1,ml-training,training,1,8,60,\n", "submit: must be"),
        ("a,0,ml-training,training,1.5,8,60,\n", "nodes: expected a whole number"),
        ("a,0,ml-training,training,1,8,nan,\n", "duration: must be"),
        ("a,0,ml-training,,1,8,60,\n", "queue: missing"),
        ("a,0,ml-training,training,1,8,60,,extra\n", "more values than columns"),
    ],
)
def test_a_bad_row_names_its_line(tmp_path: Path, row: str, needle: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "ok,0,ml-training,training,1,8,60,\n" + row)
    with pytest.raises(InputError) as exc:
        read_trace(str(path))
    assert exc.value.line == 3 and needle in exc.value.message
    assert str(exc.value).startswith(f"{path}:3: ")


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("a,0,nowhere,training,1,8,60,\n", "unknown namespace 'nowhere'"),
        ("a,0,ml-serving,training,1,8,60,\n", "no queue 'training' serves namespace 'ml-serving'"),
        ("a,0,ml-training,training,1,8,60,urgent\n", "unknown priority class 'urgent'"),
    ],
)
def test_a_row_the_platform_does_not_have(tmp_path: Path, row: str, needle: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + row)
    jobs = read_trace(str(path))
    with pytest.raises(InputError) as exc:
        validate(jobs, example_model(), str(path))
    assert exc.value.line == 2 and needle in exc.value.message


def test_unknown_pool_and_pool_outside_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER.rstrip() + ",pool\na,0,ml-training,training,1,8,60,,h100\n")
    with pytest.raises(InputError, match="unknown pool 'h100'"):
        validate(read_trace(str(path)), example_model(), str(path))
    path.write_text(HEADER.rstrip() + ",pool\na,0,ml-training,training,1,4,60,,t4\n")
    with pytest.raises(InputError, match="has no flavor for pool 't4'"):
        validate(read_trace(str(path)), example_model(), str(path))


def test_header_problems(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("name,submit\n")
    with pytest.raises(InputError, match=r"missing column\(s\): namespace"):
        read_trace(str(path))
    path.write_text(HEADER.rstrip() + ",colour\n")
    with pytest.raises(InputError, match="unknown column 'colour'"):
        read_trace(str(path))


def test_a_name_given_twice(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "a,0,ml-training,training,1,8,60,\na,1,ml-training,training,1,8,60,\n")
    with pytest.raises(InputError, match="given twice"):
        read_trace(str(path))


def test_bad_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("{not json\n")
    with pytest.raises(InputError, match="not JSON"):
        read_trace(str(path))
    path.write_text("[1]\n")
    with pytest.raises(InputError, match="one JSON object"):
        read_trace(str(path))


def test_formats_are_a_plain_registry(tmp_path: Path) -> None:
    assert set(FORMATS) >= {"csv", "jsonl"}
    with pytest.raises(UsageError, match="unknown trace format"):
        read_trace(str(tmp_path / "t.csv"), "philly-v0")


def test_a_job_kept_off_spot_on_a_queue_with_only_spot_is_refused(tmp_path: Path) -> None:
    # Queue q has one flavor, spot pool s: a job with spot=false could never run there.
    model = platform(
        [pool("s", 1, 8, spot=True), pool("d", 1, 8)],
        [{"name": "q", "namespaces": ["ns"], "flavors": [{"pool": "s"}]},
         {"name": "both", "namespaces": ["ns"], "flavors": [{"pool": "s"}, {"pool": "d"}]}],
    )  # fmt: skip
    path = tmp_path / "t.csv"
    path.write_text(
        HEADER.rstrip() + ",spot\n"
        "ok,0,ns,q,1,8,60,,true\n"  # may use spot
        "also,0,ns,both,1,8,60,,false\n"  # the queue has an on-demand flavor too
        "never,5,ns,q,1,8,60,,false\n"
    )
    with pytest.raises(InputError) as exc:
        validate(read_trace(str(path)), model, str(path))
    assert exc.value.line == 4
    assert "spot is false but queue 'q' can run it only on spot (s)" in exc.value.message
