"""The public-trace readers: each field lands where docs/plan-formats.md says, and a
bad row is reported at its line. The fixtures are rows of the real files (cited in
each fixture's test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.errors import InputError
from mlkube.plan.formats import FORMATS, read_alibaba, read_philly

HERE = Path(__file__).parent
# rows of alibaba/clusterdata cluster-trace-gpu-v2023/csv/openb_pod_list_default.csv
ALIBABA = str(HERE / "openb_pod_list_sample.csv")
# msr-fiddle/philly-traces README's cluster_job_log entry, and three more shaped like it
PHILLY = str(HERE / "cluster_job_log_sample.json")


def test_alibaba_maps_each_gpu_pod_to_a_one_node_job() -> None:
    jobs = read_alibaba(ALIBABA)
    assert [j.name for j in jobs] == [
        "openb-pod-0017",
        "openb-pod-0022",
        "openb-pod-0035",
        "openb-pod-0061",
        "openb-pod-0128",
    ]  # fmt: skip  (0005 asks for no GPU)
    big = jobs[0]
    assert big.submit == 0  # the first GPU pod's creation is the trace's start
    assert (big.nodes, big.gpus_per_node) == (1, 8)
    assert big.duration == 10769854 - 9437497
    assert big.cpu == 88.0 and big.memory == 327680 * 1024 * 1024
    assert big.team == "Burstable" and big.priority is None and big.line == 3
    shared = jobs[1]
    assert shared.submit == 9679175 - 9437497
    assert shared.gpus_per_node == 1  # gpu_milli 220 still holds a whole GPU
    assert jobs[2].duration == 9968575 - 9967063  # from scheduled, not created
    assert jobs[3].duration == 10001403 - 10001278  # never scheduled: from creation


def test_alibaba_namespace_and_queue_come_from_the_caller() -> None:
    (job, *_) = read_alibaba(ALIBABA, namespace="research", queue="batch")
    assert (job.namespace, job.queue) == ("research", "batch")


def test_philly_takes_the_last_attempt_and_its_servers() -> None:
    jobs = read_philly(PHILLY)
    assert [j.name for j in jobs] == [
        "application_1506638472019_14199",
        "application_1506638472019_14300",
    ]  # no attempt; an attempt still running at the snapshot
    first, gang = jobs
    assert first.submit == 0
    assert first.duration == 2 * 86400 + 5 * 3600 + 39 * 60 + 42  # 01:13:30 → 2 days 06:53:12
    assert (first.nodes, first.gpus_per_node, first.team) == (1, 8, "ee9e8c")
    assert gang.submit == 30 * 60
    assert (gang.nodes, gang.gpus_per_node, gang.duration) == (2, 4, 7200)
    assert gang.line == 21  # its opening brace


def test_philly_reads_json_lines_too(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    a = '{"jobid": "a", "vc": "v", "submitted_time": "2017-10-07 01:00:00", "attempts": [{"start_time": "2017-10-07 01:00:05", "end_time": "2017-10-07 01:00:10", "detail": [{"ip": "m1", "gpus": ["gpu0"]}]}]}'  # noqa: E501
    path.write_text(a + "\n" + a.replace('"a"', '"b"').replace("01:00:00", "01:00:30") + "\n")
    jobs = read_philly(str(path))
    assert [(j.name, j.submit, j.line) for j in jobs] == [("a", 0, 1), ("b", 30, 2)]


def test_formats_reads_each_fixture_by_its_format_name() -> None:
    assert len(FORMATS["alibaba"](ALIBABA)) == 5
    assert len(FORMATS["philly"](PHILLY)) == 2


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("name,cpu_milli\nx,1\n", 1, "no memory_mib"),
        (
            "name,cpu_milli,memory_mib,num_gpu,creation_time,deletion_time,scheduled_time\n"
            "a,1000,10,1,0,5,0\nb,1000,10,1,zero,5,0\n",
            3,
            "creation_time: 'zero' is not a number",
        ),
        (
            "name,cpu_milli,memory_mib,num_gpu,creation_time,deletion_time,scheduled_time\n"
            "a,1000,10,1,10,5,10\n",
            2,
            "deletion_time 5 < 10",
        ),
        (
            "name,cpu_milli,memory_mib,num_gpu,creation_time,deletion_time,scheduled_time\n"
            ",1000,10,1,0,5,0\n",
            2,
            "needs a name",
        ),
        (
            "name,cpu_milli,memory_mib,num_gpu,creation_time,deletion_time,scheduled_time\n"
            "a,1000,10,1.5,0,5,0\n",
            2,
            "num_gpu: '1.5' is not a whole number",
        ),
    ],
)
def test_alibaba_bad_rows(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "pods.csv"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        read_alibaba(str(path))
    assert (e.value.source, e.value.line) == (str(path), line)
    assert words in e.value.message


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[\n{"jobid": "a",\n "submitted_time": "yesterday", "attempts": []}\n]', 2, "not a time"),
        ('[\n{"jobid": "a"}\n{"jobid": "b"}\n]', 3, "expected ',' or ']'"),
        ('[\n{"jobid": "a", "submitted_time": "2017-10-07 01:00:00",\n', 3, "bad JSON"),
        ('[\n"a job"\n]', 2, "must be a JSON object"),
        (
            '[{"jobid": "a", "submitted_time": "2017-10-07 01:00:00", "attempts": [{"start_time":'
            ' "2017-10-07 01:00:00", "end_time": "2017-10-07 01:00:05", "detail": []}]}]',
            1,
            "must name the servers",
        ),
    ],
)
def test_philly_bad_jobs(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "cluster_job_log"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        read_philly(str(path))
    assert e.value.line == line
    assert words in e.value.message


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="No such file"):
        read_philly(str(tmp_path / "nope.json"))
