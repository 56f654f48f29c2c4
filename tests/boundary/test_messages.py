"""What the user or the cluster wrote is printed safely: control characters escaped,
long values clipped, reports built as data (issue 14 and issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic_sarif.model import StaticAnalysisResultsFormatSarifVersion210JsonSchema as Sarif

from mlkube.messages import clip, one_line, printable

from .runner import run_cli

ESC = "\x1b"
# A Pod whose name and image carry ANSI sequences (clear screen, red), as a hostile
# manifest could; the image tag `latest` makes MK501 (image-tag-mutable) fire on it.
HOSTILE = """\
apiVersion: v1
kind: Pod
metadata:
  name: "x\\e[2J\\e[31mevil"
  namespace: ml
spec:
  containers:
  - name: "c\\e]0;title\\a"
    image: "trainer\\e[8m:latest"
    resources: {limits: {nvidia.com/gpu: 1}}
"""


def test_clip_keeps_both_ends_and_says_how_much_is_left_out() -> None:
    value = "1" * 2000 + "END"
    clipped = clip(value, 100)
    assert len(clipped) < 120
    assert clipped.startswith("111") and clipped.endswith("END")
    assert "(1,9" in clipped  # the count of characters left out
    assert clip("short", 100) == "short"


def test_one_line_escapes_breaks_and_controls_and_clips_long_words() -> None:
    line = one_line(f"bad {'9' * 5000} in\nname {ESC}[31mred\u2028x")
    assert "\n" not in line and ESC not in line and "\u2028" not in line
    assert "\\x1b[31mred" in line and "\\n" in line
    assert len(line) < 400


def test_printable_keeps_newlines_and_tabs() -> None:
    assert printable(f"a\tb\nc{ESC}d\x9b") == "a\tb\nc\\x1bd\\x9b"


def test_text_report_escapes_names_from_the_input() -> None:
    result = run_cli("lint", "-", "--config", "/dev/null", stdin=HOSTILE.encode())
    assert result.code == 1, result.err
    assert "MK501" in result.out  # the premise: findings about the hostile object print
    assert ESC not in result.out and "\a" not in result.out
    assert "x\\x1b[2J\\x1b[31mevil" in result.out


def test_colour_is_still_ours_to_add() -> None:
    result = run_cli(
        "lint", "-", "--color", "always", "--config", "/dev/null", stdin=HOSTILE.encode()
    )
    assert f"{ESC}[1m" in result.out  # the file:line in bold
    assert f"{ESC}[2J" not in result.out and f"{ESC}[8m" not in result.out


def test_error_lines_escape_and_clip_what_the_user_gave(tmp_path: Path) -> None:
    hostile = tmp_path / f"{ESC}[2Jx.yaml"
    result = run_cli("lint", str(hostile))
    assert result.code == 2 and len(result.err_lines) == 1
    assert ESC not in result.err and "\\x1b[2Jx.yaml" in result.err
    huge = "A" * 100_000
    result = run_cli("explain", huge)
    assert result.code == 2 and len(result.err) < 1000
    assert "characters)" in result.err


def test_a_5000_digit_value_is_not_echoed_whole(tmp_path: Path) -> None:
    digits = "7" * 5000
    result = run_cli("cluster", "status", f"--name={digits}")
    assert result.code == 2 and len(result.err) < 1000


def test_sarif_is_valid_json_with_hostile_names() -> None:
    """The log is built as data: quotes, backslashes and controls in names stay inside
    their strings (it used to be glued together from pieces)."""
    text = HOSTILE.replace("namespace: ml", 'namespace: "ml\\"},{\\\\"')
    result = run_cli("lint", "-", "--format", "sarif", "--config", "/dev/null", stdin=text.encode())
    assert result.code == 1, result.err
    log = json.loads(result.out)
    Sarif.model_validate(log)
    names = {
        loc["fullyQualifiedName"]
        for r in log["runs"][0]["results"]
        for loc in r["locations"][0]["logicalLocations"]
    }
    assert any(f'ml"}},{{\\/x{ESC}[2J' in n for n in names), names
