"""``doctor --from FILE``: a snapshot is checked on load; a bad one is one line naming
the file, the line and the field (exit 2), never a traceback or a false diagnosis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlkube.cli.main import main
from mlkube.errors import InputError
from mlkube.snapshots import evidence
from mlkube.snapshots.evidence import Evidence

RECORDED = Path(__file__).parent / "distributed-job-incomplete" / "fires.json"


def _envelope(**objects: object) -> dict[str, object]:
    return {"context": "c", "namespace": None, "taken": "t", "objects": objects}


def _refused(tmp_path: Path, text: str | bytes) -> InputError:
    path = tmp_path / "snapshot.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError) as caught:
        Evidence.load(str(path))
    assert "\n" not in str(caught.value)
    return caught.value


def test_the_issue_reproducer_is_refused_with_its_field(tmp_path: Path) -> None:
    text = (
        '{"context":"c","namespace":null,"taken":"t","objects":{"kubeflow.org/v1/PyTorchJob":'
        '[{"metadata":{"name":"u"},"status":7}]}}'
    )
    error = _refused(tmp_path, text)
    assert error.message == (
        'objects["kubeflow.org/v1/PyTorchJob"][0].status: expected an object, found an integer'
    )


def test_the_error_names_the_line_of_the_bad_field(tmp_path: Path) -> None:
    data = json.loads(RECORDED.read_text())
    pods = data["objects"]["v1/Pod"]
    pods[2]["status"]["containerStatuses"] = [{"name": "pytorch", "restartCount": "three"}]
    text = json.dumps(data, indent=1)
    error = _refused(tmp_path, text)
    lines = text.splitlines()
    assert '"restartCount": "three"' in lines[error.line - 1]
    assert error.message.startswith('objects["v1/Pod"][2].status.containerStatuses[0].restartCount')


def test_a_missing_required_field_points_at_its_object(tmp_path: Path) -> None:
    pods = [{"metadata": {"name": "a"}}, {"metadata": {}}]
    text = json.dumps(_envelope(**{"v1/Pod": pods}), indent=1)
    error = _refused(tmp_path, text)
    assert error.message == (
        'objects["v1/Pod"][1].metadata.name: missing (every snapshot and object has it)'
    )
    assert text.splitlines()[error.line - 1].strip() == '"metadata": {}'


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1e400", "not a Kubernetes quantity"),
        ("eight", "not a Kubernetes quantity"),
        ([8], "expected a quantity"),
        (True, "expected a quantity"),
    ],
)
def test_a_quantity_that_is_not_one_is_refused(tmp_path: Path, value: object, problem: str) -> None:
    node = {"metadata": {"name": "n"}, "status": {"allocatable": {"nvidia.com/gpu": value}}}
    error = _refused(tmp_path, json.dumps(_envelope(**{"v1/Node": [node]}), indent=1))
    assert error.message.startswith('objects["v1/Node"][0].status.allocatable["nvidia.com/gpu"]: ')
    assert problem in error.message


def test_json_errors_keep_their_line(tmp_path: Path) -> None:
    error = _refused(tmp_path, '{\n "context": "c",\n "taken": \n}')
    assert (error.line, error.message) == (4, "not JSON: Expecting value")


def test_nan_is_not_json(tmp_path: Path) -> None:
    error = _refused(tmp_path, '{"context": "c",\n "calls": NaN}')
    assert error.line == 2 and "NaN" in error.message


def test_deep_nesting_is_refused_where_it_gets_too_deep(tmp_path: Path) -> None:
    shallow = _refused(tmp_path, '{"context":\n' + "[" * 70 + "]" * 70 + "}")
    assert shallow.line == 2 and "nested deeper than 64 levels" in shallow.message
    deep = _refused(tmp_path, "[" * 200_000)  # past the recursion limit of the parser
    assert "nested deeper" in deep.message


def test_a_file_that_is_not_utf8_says_so_with_its_line(tmp_path: Path) -> None:
    error = _refused(tmp_path, b'{"context": "c",\n"taken": "\xff"}')
    assert (error.line, error.message) == (2, "not an mlkube doctor snapshot: not UTF-8")


def test_a_json_array_is_not_a_snapshot(tmp_path: Path) -> None:
    assert "not a JSON object" in _refused(tmp_path, "[]").message


def test_odd_keys_are_escaped_and_clipped_in_the_message(tmp_path: Path) -> None:
    key = "\x1b[31m" + "k" * 500
    node = {"metadata": {"name": "n", "labels": {key: 5}}}
    error = _refused(tmp_path, json.dumps(_envelope(**{"v1/Node": [node]})))
    assert "\x1b" not in error.message and "\\x1b[31m" in error.message
    assert len(error.message) < 200


def test_nulls_read_as_absent_fields() -> None:
    pod = {"metadata": {"name": "p", "labels": None}, "status": None, "spec": {"nodeName": None}}
    evidence = Evidence.parse(json.dumps(_envelope(**{"v1/Pod": [pod]})), "s.json")
    assert evidence.of("v1", "Pod") == [{"metadata": {"name": "p"}, "spec": {}}]


def test_unknown_kinds_and_extra_fields_are_kept_with_only_their_metadata_checked() -> None:
    """Any kind may own pods (a custom operator's job): doctor walks its metadata."""
    gadget = {"metadata": {"name": "g"}, "anything": [1, "x"]}
    data = _envelope(**{"example.com/v1/Gadget": [gadget]})
    data["future"] = {"field": 1}
    evidence = Evidence.parse(json.dumps(data), "s.json")
    assert evidence.objects["example.com/v1/Gadget"] == [gadget]
    owned = {"metadata": {"name": "g", "ownerReferences": "Deployment web"}}
    error = _refused_data(_envelope(**{"example.com/v1/Gadget": [owned]}))
    assert 'objects["example.com/v1/Gadget"][0].metadata.ownerReferences: expected a list' in (
        error
    )


def _refused_data(data: dict[str, object]) -> str:
    with pytest.raises(InputError) as caught:
        Evidence.parse(json.dumps(data, indent=1), "s.json")
    return str(caught.value)


def test_the_cli_reports_a_bad_snapshot_in_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    text = json.dumps(_envelope(**{"v1/Pod": [{"metadata": {"name": 5}}]}), indent=1)
    bad.write_text(text)
    line = [s.strip() for s in text.splitlines()].index('"name": 5') + 1
    assert main(["doctor", "--from", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f'mlkube: {bad}:{line}: objects["v1/Pod"][0].metadata.name: '
        "expected a string, found an integer\n"
    )


def test_numbers_past_any_field_are_refused_on_their_line(tmp_path: Path) -> None:
    digits = _refused(tmp_path, '{"context": "c",\n "calls": ' + "9" * 5000 + "}")
    assert (digits.line, digits.message) == (
        2,
        "a number of 5000 digits, past any Kubernetes field",
    )
    huge = _refused(tmp_path, '{"context": "c",\n "calls": 1e400}')
    assert (huge.line, huge.message) == (2, "1e400 is out of the range of a number")


def test_half_a_surrogate_pair_is_refused_but_a_whole_one_is_kept(tmp_path: Path) -> None:
    lone = _refused(tmp_path, '{"context": "c",\n "taken": "\\ud800"}')
    assert lone.line == 2 and "half of a UTF-16 pair" in lone.message
    whole = json.dumps(_envelope(), ensure_ascii=True).replace('"c"', '"\\ud83d\\ude00"')
    assert Evidence.parse(whole, "s.json").context == "\U0001f600"


def test_an_endless_file_is_refused_not_read_into_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence, "LARGEST_FILE", 4096)
    with pytest.raises(InputError, match="larger than 1 GiB"):
        Evidence.load("/dev/zero")


def test_a_quantity_that_is_an_object_names_the_field_not_a_union_member(tmp_path: Path) -> None:
    node = {"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": {"str": 1}}}}
    error = _refused(tmp_path, json.dumps(_envelope(**{"v1/Node": [node]})))
    assert error.message == (
        'objects["v1/Node"][0].status.allocatable.cpu: '
        "expected a quantity (a string like '8Gi' or a number), found an object"
    )
