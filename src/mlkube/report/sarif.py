"""``--format sarif``: SARIF 2.1.0, as GitHub code scanning uploads expect it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from mlkube.rules.model import Finding, Rule, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_DOCS = "https://github.com/mlkube/mlkube/blob/main/docs/rules.md"


def _descriptor(rule: Rule[Any]) -> dict[str, Any]:
    doc = rule.doc
    markdown = "\n\n".join(
        part
        for part in (
            doc.summary,
            f"**Why is this bad?**\n\n{doc.why}" if doc.why else "",
            f"**Example**\n\n{doc.example}" if doc.example else "",
            f"**Use instead**\n\n{doc.instead}" if doc.instead else "",
        )
        if part
    )
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": doc.summary},
        "fullDescription": {"text": doc.why or doc.summary},
        "help": {"text": rule.remediation, "markdown": markdown},
        "helpUri": f"{_DOCS}#{rule.id.lower()}-{rule.name}",
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
    }


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    obj = f.where.obj
    qualified = "/".join(p for p in (obj.kind, obj.namespace, obj.name) if p)
    logical = f"{qualified}.{f.where.field}" if f.where.field else qualified
    return {
        "ruleId": f.rule,
        "ruleIndex": index[f.rule],
        "level": _LEVEL[f.severity],
        "message": {"text": f"{f.message}. Fix: {f.remediation}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.where.source)},
                    "region": {"startLine": max(1, f.where.line)},
                },
                "logicalLocations": [{"fullyQualifiedName": logical, "kind": "resource"}],
            }
        ],
    }


def to_sarif(findings: Sequence[Finding], rules: Sequence[Rule[Any]]) -> Iterator[str]:
    """A SARIF log with one run, built as data and encoded in chunks as it goes."""
    index = {r.id: i for i, r in enumerate(rules)}
    driver = {"name": "mlkube", "informationUri": _DOCS, "rules": [_descriptor(r) for r in rules]}
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": [_result(f, index) for f in findings]}],
    }
    yield from json.JSONEncoder(indent=1).iterencode(log)
    yield "\n"


def _uri(source: str) -> str:
    if source == "<stdin>":
        return "stdin"
    return source.removeprefix("./")
