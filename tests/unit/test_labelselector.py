"""`-l` as kubectl reads it: the cases of apimachinery's selector grammar
(k8s.io/apimachinery/pkg/labels/selector.go), expected values by its documented rules:
`!=` and `notin` hold for an object without the key, `in` and `=` do not."""

from __future__ import annotations

import pytest

from mlkube.errors import UsageError
from mlkube.manifests.labelselector import parse

NAME = "app.kubernetes.io/name"
CASES = [
    ("a=b", {"a": "b"}, True),
    ("a=b", {"a": "c"}, False),
    ("a=b", {}, False),
    ("a==b", {"a": "b"}, True),
    ("a!=b", {}, True),
    ("a!=b", {"a": "c"}, True),
    ("a!=b", {"a": "b"}, False),
    ("a in (x, y)", {"a": "y"}, True),
    ("a in (x,y)", {"a": "z"}, False),
    ("a in (x,y)", {}, False),
    ("a notin (x)", {}, True),
    ("a notin (x)", {"a": "x"}, False),
    ("a", {"a": ""}, True),
    ("a", {}, False),
    ("!a", {}, True),
    ("!a", {"a": "x"}, False),
    (f"{NAME}=iris,tier in (web,api)", {NAME: "iris", "tier": "api"}, True),
    (f"{NAME}=iris,tier in (web,api)", {NAME: "iris"}, False),
    ("a=", {"a": ""}, True),
]  # fmt: skip


@pytest.mark.parametrize(("selector", "labels", "holds"), CASES)
def test_selector(selector: str, labels: dict[str, str], holds: bool) -> None:
    assert parse(selector)(labels) is holds


@pytest.mark.parametrize("bad", ["", "a=b=c", "in (x)", "a in x", "a in (x y)", "=b", "a,,b"])
def test_a_bad_selector_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="-l "):
        parse(bad)
