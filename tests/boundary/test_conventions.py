"""kubectl's conventions, held for every verb the parser has (issue 12): ``-f`` is an
input, ``-o`` a format, the cluster flags where a cluster is read, no flag accepted and
then ignored, one line per verb in ``mlkube --help``, examples under each verb's help
that the parser itself accepts, and one exit-code table (README's) for all of them."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from mlkube import errors
from mlkube.cli.examples import EXAMPLES
from mlkube.cli.main import build_parser

from ..conftest import EXAMPLES as EXAMPLE_SPECS
from ..conftest import ROOT
from .runner import run_cli
from .test_every_verb import FILE_INPUTS, NO_FILE_INPUTS, Verb, _leaves

VERBS = sorted(set(FILE_INPUTS) | NO_FILE_INPUTS)
# The verbs that read or write a cluster, and of -n, -A and -l the ones each acts on.
# Not offered, so refused: -A and -l where the verb acts on one named object or reads
# cluster-wide facts; -n where nothing is namespaced (the controller watches all).
CLUSTER_FLAGS: dict[Verb, set[str]] = {
    ("apply",): {"-n", "-l"},  # -n: for objects that name none; -l: which to apply
    ("status",): {"-n", "-A", "-l"},
    ("wait",): {"-n"},  # one named job
    ("doctor",): {"-n", "-A", "-l"},  # -l: only the workloads with these labels
    ("preflight",): {"-n"},  # the deployer's namespace; the rest is cluster-wide
    ("controller", "run"): set(),
}
OUTPUT_FORMATS = {"text", "json", "yaml", "sarif", "html"}
# `-o` that is not (only) a format: render's deprecated `-o DIR`, and plan's report
# file (cli/plan.py is another helper's: issue 12 leaves it to them).
OUTPUT_EXCEPTIONS = {("render",), ("plan",)}


def _parser(verb: Verb) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in verb:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


def _flags(verb: Verb) -> dict[str, argparse.Action]:
    return {s: a for a in _parser(verb)._actions for s in a.option_strings}


def test_the_tables_here_name_only_real_verbs() -> None:
    assert set(_leaves(build_parser())) == set(VERBS)
    assert set(CLUSTER_FLAGS) <= set(VERBS)
    assert set(EXAMPLES) == set(VERBS)


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_f_is_an_input_and_o_a_format(verb: Verb) -> None:
    flags = _flags(verb)
    positional = {a.dest for a in _parser(verb)._actions if not a.option_strings}
    if "-f" in flags:
        assert flags["-f"] is flags["--filename"] and flags["-f"].dest == "filenames"
    if "paths" in positional:  # a verb that reads files takes them as kubectl does
        assert "-f" in flags
    if "-o" in flags and verb not in OUTPUT_EXCEPTIONS:
        assert flags["-o"] is flags["--output"], verb
        assert set(flags["-o"].choices or ()) <= OUTPUT_FORMATS, verb
    if "--format" in flags and verb not in OUTPUT_EXCEPTIONS:
        assert flags["--format"] is flags["-o"], "--format is -o's long alias"


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_cluster_flags_where_a_cluster_is_read(verb: Verb) -> None:
    flags = _flags(verb)
    if verb not in CLUSTER_FLAGS:
        assert "--kubeconfig" not in flags, f"{verb} reads a cluster: put it in CLUSTER_FLAGS"
        return
    assert {"--kubeconfig", "--context", "--request-timeout"} <= set(flags)
    offered = {f for f in ("-n", "-A", "-l") if f in flags}
    assert offered == CLUSTER_FLAGS[verb]
    long = {"-n": "--namespace", "-A": "--all-namespaces", "-l": "--selector"}
    for short in offered:
        assert flags[short] is flags[long[short]]


REFUSED = [(v, f) for v, on in CLUSTER_FLAGS.items() for f in ("-n", "-A", "-l") if f not in on]


@pytest.mark.parametrize(("verb", "flag"), REFUSED, ids=[f"{' '.join(v)} {f}" for v, f in REFUSED])
def test_a_cluster_flag_a_verb_would_ignore_is_refused(verb: Verb, flag: str) -> None:
    """`controller run -n x` once ran against every namespace as if -n were not there."""
    argv = [*verb, *({"wait": ["job", "--for", "Ready"]}.get(verb[0], []))]
    value = [] if flag == "-A" else ["x"]
    result = run_cli(*argv, flag, *value, "--kubeconfig", "/nonexistent")
    assert result.code == 2
    assert f"unrecognized arguments: {flag}" in result.err


def test_top_level_help_lists_every_verb_on_one_line() -> None:
    result = run_cli("--help")
    assert result.code == 0
    verbs = {v[0] for v in VERBS}
    section = result.out.split("COMMAND\n", 1)[1].split("\n\n", 1)[0].splitlines()
    shown = {}
    for line in section:
        match = re.fullmatch(r" {4}(\S+) +(\S.*)", line)
        assert match, f"not one line per verb: {line!r}"
        shown[match.group(1)] = match.group(2)
    assert set(shown) == verbs


def _commands(example: str) -> list[list[str]]:
    """The mlkube command lines in an example (a pipe's or an eval's included)."""
    inner = re.sub(r'eval "\$\((.*)\)"', r"\1", example)
    lines = []
    for part in inner.split("|"):
        words = shlex.split(part.split(">")[0])
        if words and words[0] == "mlkube":
            lines.append(words[1:])
    return lines


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_help_has_examples_the_parser_accepts(verb: Verb) -> None:
    result = run_cli(*verb, "--help")
    assert result.code == 0
    assert "\nexamples:\n" in result.out
    commands = [c for _, e in EXAMPLES[verb] for c in _commands(e)]
    assert commands, verb
    for argv in commands:
        assert tuple(argv[: len(verb)]) == verb, argv
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:  # pragma: no cover - the failure being tested for
            pytest.fail(f"example does not parse: mlkube {shlex.join(argv)} ({exc})")
    for _, example in EXAMPLES[verb]:
        assert f"\n  {example}\n" in result.out  # as written, not re-wrapped


@pytest.mark.parametrize("verb", sorted({v[:1] for v in VERBS if len(v) > 1}), ids=" ".join)
def test_a_verb_with_actions_shows_the_examples_of_each(verb: Verb) -> None:
    out = run_cli(*verb, "--help").out
    for action in (v for v in VERBS if v[:1] == verb):
        for _, example in EXAMPLES[action]:
            assert f"\n  {example}\n" in out


def _readme_exit_codes() -> dict[int, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, re.M)
    return {int(code): meaning for code, meaning in rows}


def test_readme_has_one_exit_code_table_and_it_is_mlkubes() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.count("| code | meaning |") == 1
    table = _readme_exit_codes()
    constants = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert set(table) == {0} | constants
    assert {e.exit_code for e in (errors.InputError("f", 1, "x"), errors.UsageError())} == {2}
    assert errors.Unreachable.exit_code == 3 and errors.ClusterError.exit_code == 4


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_keeps_to_the_table(verb: Verb) -> None:
    """Help is 0; an unknown flag is 2, with the usage and one error line."""
    table = _readme_exit_codes()
    assert run_cli(*verb, "--help").code == 0
    bad = run_cli(*verb, "--no-such-flag")
    assert bad.code == 2 and bad.code in table
    assert bad.err_lines[-1].startswith("mlkube") and "error:" in bad.err_lines[-1]
    assert "Traceback" not in bad.err


def test_f_and_positional_paths_are_the_same_input(tmp_path: Path) -> None:
    platform = str(EXAMPLE_SPECS / "platform.yaml")
    by_path = run_cli("render", platform)
    by_f = run_cli("render", "-f", platform)
    assert by_path.code == by_f.code == 0 and by_path.out == by_f.out
    both = run_cli("lint", "-f", "-", platform, "-o", "json", stdin=by_path.out.encode())
    alone = run_cli("lint", platform, "-o", "json")
    # the rendered bundle has as many objects as render wrote documents, plus the spec's
    objects = by_path.out.count("\n---\n") + by_path.out.startswith("---\n")
    summary = json.loads(both.out)["summary"]
    assert summary["objects"] == objects + json.loads(alone.out)["summary"]["objects"]


def test_no_input_is_a_usage_error() -> None:
    result = run_cli("lint")
    assert result.code == 2 and result.err_lines == [
        "mlkube: no input: give PATH arguments, -f PATH (- for standard input) or --kustomize DIR"
    ]
    result = run_cli("apply")
    assert result.code == 2 and result.err_lines == [
        "mlkube: no input: give PATH arguments or -f PATH (- for standard input)"
    ]


def test_the_old_dash_f_for_a_format_says_what_changed(tmp_path: Path) -> None:
    result = run_cli("lint", "-f", "json", str(EXAMPLE_SPECS))
    assert result.code == 2
    assert result.err_lines == [
        "mlkube: -f json: no such file; -f is --filename, as in kubectl (for the output "
        "format: -o json)"
    ]


def test_yaml_report_is_the_json_report(tmp_path: Path) -> None:
    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: ml}\n"
        "spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n"
        "        - {name: c, image: 'trainer:latest', resources: {limits: {nvidia.com/gpu: 1}}}\n"
    )
    as_json = run_cli("lint", "-f", str(manifest), "-o", "json")
    as_yaml = run_cli("lint", "-f", str(manifest), "--output", "yaml")
    assert as_json.code == as_yaml.code == 1
    assert yaml.safe_load(as_yaml.out) == json.loads(as_json.out)
    assert json.loads(as_json.out)["findings"]  # the comparison compares something
    empty = run_cli("lint", "-f", str(EXAMPLE_SPECS / "platform.yaml"), "-o", "yaml")
    assert yaml.safe_load(empty.out)["findings"] == []


def test_render_json_is_a_list_of_the_yaml_streams_objects() -> None:
    platform = str(EXAMPLE_SPECS / "platform.yaml")
    stream = [d for d in yaml.safe_load_all(run_cli("render", platform).out) if d]
    listed = json.loads(run_cli("render", platform, "-o", "json").out)
    assert listed["apiVersion"] == "v1" and listed["kind"] == "List"
    assert listed["items"] == stream and len(stream) > 1


def test_render_o_dir_still_works_and_says_it_is_deprecated(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = run_cli("render", str(EXAMPLE_SPECS / "platform.yaml"), "-o", str(out))
    assert result.code == 0
    assert result.err_lines[0] == (f"mlkube: render -o DIR is deprecated: use --output-dir {out}")
    assert (out / "kustomization.yaml").is_file()
    assert result.out == ""


def test_rules_and_the_controller_bundle_as_data() -> None:
    from mlkube.rules.registry import ALL_RULES  # noqa: PLC0415

    listed = json.loads(run_cli("rules", "-o", "json").out)["rules"]
    assert [r["id"] for r in listed] == [r.id for r in ALL_RULES]
    assert yaml.safe_load(run_cli("rules", "-o", "yaml").out)["rules"] == listed
    stream = [d for d in yaml.safe_load_all(run_cli("controller", "manifests").out) if d]
    as_json = json.loads(run_cli("controller", "manifests", "-o", "json").out)
    assert as_json["kind"] == "List" and as_json["items"] == stream
