"""`mlkube plan` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import EXAMPLES, Run

PLATFORM = str(EXAMPLES / "platform.yaml")
TRACE = str(EXAMPLES / "trace.csv")


def test_text_summary(mlkube: Run) -> None:
    result = mlkube("plan", "--platform", PLATFORM, "--trace", TRACE)
    assert result.code == 0, result.err
    assert "ml-platform" in result.out and "queue training wait p50/p95/max" in result.out
    assert "no prices were given" in result.out


def test_json_has_every_part_for_each_platform(mlkube: Run, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    prices = tmp_path / "prices.yaml"
    prices.write_text("a100: {onDemand: 4.1}\na100-spot: {spot: 1.3}\n")
    result = mlkube(
        "plan", "--platform", PLATFORM, "--trace", TRACE, "--what-if", PLATFORM,
        "--format", "json", "-o", str(out), "--prices", str(prices),
    )  # fmt: skip
    assert result.code == 0, result.err
    data = json.loads(out.read_text())
    assert len(data["platforms"]) == 2
    for platform in data["platforms"]:
        assert {"jobs", "queues", "teams", "pools", "cost"} <= set(platform)
        assert platform["cost"]["total"] > 0
        assert {
            "admissions",
            "preemptions",
            "finished",
            "flavor",
            "nodes",
            "lost_gpu_hours",
        } <= set(platform["jobs"][0])


def test_a_bad_trace_line_is_one_line_and_exit_2(mlkube: Run, tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(
        "name,submit,namespace,queue,nodes,gpus_per_node,duration,priority\n"
        "a,0,ml-training,training,1,8,60,\n"
        "b,0,ml-training,training,1,eight,60,\n"
    )
    result = mlkube("plan", "--platform", PLATFORM, "--trace", str(trace))
    assert result.code == 2
    assert result.err.count("\n") == 1 and f"{trace}:3:" in result.err
    assert "gpus_per_node" in result.err


def test_a_job_the_platform_does_not_have_is_exit_2(mlkube: Run, tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(
        '{"name": "a", "submit": 0, "namespace": "ml-training", "queue": "nope",'
        ' "nodes": 1, "gpus_per_node": 8, "duration": 60}\n'
    )
    result = mlkube("plan", "--platform", PLATFORM, "--trace", str(trace))
    assert result.code == 2 and f"{trace}:1:" in result.err and "'nope'" in result.err


def test_a_job_kept_off_spot_on_a_spot_only_queue_is_exit_2(mlkube: Run, tmp_path: Path) -> None:
    # The example Platform with the research queue cut down to its spot flavor.
    text = (EXAMPLES / "platform.yaml").read_text()
    spot_only = text.replace("        - {pool: a100, gpus: 0, borrowingLimit: 8}\n", "")
    assert spot_only != text
    platform = tmp_path / "platform.yaml"
    platform.write_text(spot_only)
    trace = tmp_path / "t.csv"
    trace.write_text(
        "name,submit,namespace,queue,nodes,gpus_per_node,duration,priority,spot\n"
        "a,0,ml-training,research,1,8,60,,true\n"
        "b,0,ml-training,research,1,8,60,,false\n"
    )
    result = mlkube("plan", "--platform", str(platform), "--trace", str(trace))
    assert result.code == 2 and result.err.count("\n") == 1
    assert f"{trace}:3: " in result.err and "only on spot (a100-spot)" in result.err


def test_a_reclaim_rate_on_an_on_demand_pool_is_exit_2(mlkube: Run, tmp_path: Path) -> None:
    text = (EXAMPLES / "platform.yaml").read_text()
    bad = text.replace("    - name: t4\n", "    - name: t4\n      reclaimRate: 0.1\n")
    assert bad != text
    platform = tmp_path / "platform.yaml"
    platform.write_text(bad)
    result = mlkube("plan", "--platform", str(platform), "--trace", TRACE)
    assert result.code == 2 and "reclaimRate is for spot pools" in result.err


def test_bad_prices_file(mlkube: Run, tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("a100: {onDemand: 4}\nh100: {onDemand: 9}\n")
    result = mlkube("plan", "--platform", PLATFORM, "--trace", TRACE, "--prices", str(prices))
    assert result.code == 2 and f"{prices}:2:" in result.err and "h100" in result.err


def test_a_negative_reclaim_rate_is_a_usage_error(mlkube: Run) -> None:
    result = mlkube("plan", "--platform", PLATFORM, "--trace", TRACE, "--spot-reclaim-rate", "-1")
    assert result.code == 2 and "--spot-reclaim-rate" in result.err


def test_html_without_the_html_module_is_a_usage_error(mlkube: Run) -> None:
    import importlib.util  # noqa: PLC0415

    if importlib.util.find_spec("mlkube.plan.html") is not None:
        return  # the report is there: its own tests cover it
    result = mlkube("plan", "--platform", PLATFORM, "--trace", TRACE, "--format", "html")
    assert result.code == 2 and "html is not available" in result.err


@pytest.mark.parametrize(
    ("fmt", "fixture"),
    [("alibaba", "openb_pod_list_sample.csv"), ("philly", "cluster_job_log_sample.json")],
)
def test_the_public_traces_are_read_by_their_format_name(
    mlkube: Run, fmt: str, fixture: str
) -> None:
    trace = str(Path(__file__).parents[1] / "plan_formats" / fixture)
    result = mlkube("plan", "--platform", PLATFORM, "--trace", trace, "--trace-format", fmt,
                    "--format", "json")  # fmt: skip
    assert result.code == 0, result.err
    (platform,) = json.loads(result.out)["platforms"]
    assert platform["jobs"] and all(j["queue"] == "training" for j in platform["jobs"])
    # read as plain CSV or JSONL instead, the same file is refused (no such columns)
    assert mlkube("plan", "--platform", PLATFORM, "--trace", trace).code == 2
