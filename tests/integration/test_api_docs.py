"""The examples of docs/api.md that need a cluster, run on the local one (the others
run in tests/packaging/test_api.py): each prints what the page says it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..packaging.test_api import blocks, expected_and_actual


@pytest.mark.parametrize("index", range(len(blocks("cluster"))))
def test_cluster_examples_print_what_they_say(
    local_cluster: Path, monkeypatch: pytest.MonkeyPatch, index: int
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(local_cluster))
    expected, actual = expected_and_actual(blocks("cluster")[index])
    assert expected
    assert actual == expected
