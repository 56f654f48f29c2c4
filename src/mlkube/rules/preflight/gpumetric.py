"""Why the custom metrics API does not serve dcgm-exporter's GPU utilisation per pod:
the adapter's rule, or the exporter's labels. Pure: judges `Facts`.

The exporter's labels are dcgm-exporter's with ``DCGM_EXPORTER_KUBERNETES=true``
(NVIDIA/dcgm-exporter internal/pkg/transformation: ``pod``, ``namespace``,
``container`` of the pod using the GPU, beside the device labels), kept as they are
only when Prometheus scrapes with ``honorLabels: true``. prometheus-adapter
(pkg/naming/metric_namer.go) serves a series for pods when its rule's ``resources``
map one of the series' labels to pods, and selects series by the rule's seriesQuery.
"""

from __future__ import annotations

import re
from typing import Any

from mlkube.snapshots.facts import GPU_METRIC, Facts

# What one series of dcgm-exporter carries after a scrape with honorLabels: true.
EXPORTER_LABELS = frozenset({
    "gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION",
    "pod", "namespace", "container",  # DCGM_EXPORTER_KUBERNETES=true
    "job", "instance", "service", "endpoint",  # Prometheus' target labels
})  # fmt: skip
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_POD = ("pod", "pods")
SHOWN = 5


def _raw_rules(facts: Facts) -> list[dict[str, Any]] | None:
    config = facts.adapter_config or {}
    text = (config.get("data") or {}).get("config.yaml")
    if not isinstance(text, str):
        return None
    import yaml  # noqa: PLC0415 - the rule list loads without PyYAML (issue 11)

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    rules = loaded.get("rules") if isinstance(loaded, dict) else None
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _exposes(raw: dict[str, Any], source: str) -> bool:
    """Whether prometheus-adapter would name this rule's series GPU_METRIC (its naming
    emulated by `rules.lint.adapter`)."""
    import yaml  # noqa: PLC0415 - the rule list loads without PyYAML or RE2 (issue 11)

    from mlkube.manifests.objects import live_manifest  # noqa: PLC0415
    from mlkube.rules.lint.adapter import adapter_config  # noqa: PLC0415

    text = yaml.safe_dump({"rules": [raw]})
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "adapter"}, "data": {"config.yaml": text}}  # fmt: skip
    parsed = adapter_config(live_manifest(config_map, source)).rules["rules"]
    return any(rule.exposes(GPU_METRIC) for rule in parsed)


def _labels_selected(raw: dict[str, Any]) -> list[str]:
    query = str(raw.get("seriesQuery") or "")
    inside = query[query.find("{") + 1 : query.rfind("}")] if "{" in query else ""
    return [m for m in _MATCHER.findall(inside) if m != "__name__"]


def _pod_label(raw: dict[str, Any]) -> str | None:
    """The series label the rule maps to pods, or None."""
    resources = raw.get("resources") or {}
    if not isinstance(resources, dict):
        return None
    for label, target in (resources.get("overrides") or {}).items():
        if isinstance(target, dict) and str(target.get("resource", "")) in _POD:
            return str(label)
    template = str(resources.get("template") or "")
    return template.replace("<<.Resource>>", "pod") if "<<.Resource>>" in template else None


def rule_problem(facts: Facts) -> str | None:
    """What is wrong with the adapter's rule for GPU_METRIC against the exporter's
    labels, or None when it is right or the rules could not be read."""
    rules = _raw_rules(facts)
    if rules is None:
        return None
    source = str((facts.adapter_config or {}).get("source"))
    mine = [r for r in rules if _exposes(r, source)]
    if not mine:
        return f"no rule in {source} serves {GPU_METRIC} ({len(rules)} rules)"
    problems = []
    for raw in mine:
        foreign = [label for label in _labels_selected(raw) if label not in EXPORTER_LABELS]
        pod = _pod_label(raw)
        if foreign:
            problems.append(
                f"its seriesQuery {raw.get('seriesQuery')!r} selects on "
                f"{', '.join(repr(f) for f in foreign)}, which dcgm-exporter's series do not "
                "carry"
            )
        elif pod is None:
            problems.append(
                "its resources map no series label to pods (served for namespaces at most)"
            )
        elif pod not in EXPORTER_LABELS:
            problems.append(
                f"its resources map the label {pod!r} to pods, which dcgm-exporter's series "
                "do not carry (scraped with honorLabels: true, the GPU pod is `pod`)"
            )
        else:
            return None  # one right rule is enough
    return f"the rule for {GPU_METRIC} in {source} is wrong: " + "; ".join(problems)


def label_problem(facts: Facts) -> str | None:
    """Served for pods, yet no value for the running GPU pods: whose pods it names."""
    gpu = {(ns, p) for ns, names in facts.gpu_pods.items() for p in names}
    if not gpu:
        return None  # nothing to compare with: the metric is served
    valued = {(ns, p) for ns, names in facts.gpu_metric_pods.items() for p in names}
    if valued & gpu:
        return None
    others = sorted(valued - gpu)
    shown = ", ".join(f"{ns}/{p}" for ns, p in sorted(gpu)[:SHOWN])
    if others:
        named = ", ".join(f"{ns}/{p}" for ns, p in others[:SHOWN])
        return (
            f"{GPU_METRIC} has values only for pods that use no GPU ({named}), none for the "
            f"GPU pods ({shown}): the series' pod label is the exporter's own — scrape "
            "dcgm-exporter with honorLabels: true (without it Prometheus moves the GPU pod "
            "to exported_pod)"
        )
    return (
        f"{GPU_METRIC} has no value for any running GPU pod ({shown}): the exporter's series "
        "do not name these pods — run dcgm-exporter with DCGM_EXPORTER_KUBERNETES=true on "
        "their nodes"
    )
