"""Diagnoses of inference endpoints that are not Ready, and of autoscalers that cannot
read their metric.

An endpoint that is not Ready gets one finding, from the first cause that applies
(`_cause`): Knative mode without Knative, scaled to zero, a failing
storage-initializer, a failing readiness probe; else DK401 says what is known. The
shapes read are KServe v0.20's (pkg/apis/serving/v1beta1/inference_service_status.go:
``PropagateModelStatus`` copies a failed storage-initializer's termination message into
``status.modelStatus.lastFailureInfo``; the isvc controller records a
``ServerlessModeRejected`` event when Knative Serving is not installed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mlkube.manifests.objects import condition, deployment_mode
from mlkube.quantity import format_bytes, parse_quantity
from mlkube.rules.doctor.common import at, container_spec, gpus_of, named, owners, pods
from mlkube.rules.doctor.owners import chain
from mlkube.rules.model import Rule, Severity, Violation
from mlkube.snapshots.evidence import Evidence
from mlkube.wellknown import GPU, ISVC_LABEL, ISVC_MODE_ANNOTATION, KNATIVE_MODES

ISVC_API = "serving.kserve.io/v1beta1"
KNATIVE_SERVICE = "serving.knative.dev/v1/Service"
STORAGE_INITIALIZER = "storage-initializer"
SERVER = "kserve-container"
CUSTOM_METRICS = "v1beta1.custom.metrics.k8s.io"
APISERVICE = "apiregistration.k8s.io/v1/APIService"
# Where KServe's storage-initializer gets its resources (config/configmap/inferenceservice.yaml).
KSERVE_CONFIG = "ConfigMap inferenceservice-config (namespace kserve)"


@dataclass(frozen=True)
class Cause:
    rule: str  # the rule that reports it
    message: str
    fix: str | None = None
    field: tuple[str | int, ...] = ("status", "conditions")


def _isvc(obj: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": ISVC_API, "kind": "InferenceService", **obj}


def _knative_rejected(evidence: Evidence, isvc: dict[str, Any]) -> str | None:
    """Knative mode on a cluster without Knative Serving: KServe's own words when it
    said so in an event (``ServerlessModeRejected``), else "" when the CRD is not served
    (doctor looked, `needs`); None when neither."""
    if deployment_mode(isvc) not in KNATIVE_MODES:
        return None
    meta = isvc["metadata"]
    said = next(
        (
            str(e.get("message") or "")
            for e in evidence.of("v1", "Event")
            if e.get("reason") == "ServerlessModeRejected"
            and (e.get("involvedObject") or {}).get("name") == meta["name"]
            and (e.get("involvedObject") or {}).get("namespace") == meta.get("namespace")
        ),
        None,
    )
    if said is not None:
        return said
    return "" if KNATIVE_SERVICE in evidence.missing else None


def _status_of(pod: dict[str, Any], name: str, init: bool) -> dict[str, Any]:
    key = "initContainerStatuses" if init else "containerStatuses"
    for s in pod.get("status", {}).get(key) or []:
        if s.get("name") == name:
            return dict(s)
    return {}


def _terminated(status: dict[str, Any]) -> dict[str, Any]:
    """The storage-initializer's failed run: the current one, or the last one before
    the back-off it waits in now. One that runs again or completed is not failing."""
    state = status.get("state") or {}
    now = state.get("terminated") or {}
    if now:
        return {} if now.get("reason") == "Completed" else dict(now)
    if state.get("waiting"):
        return dict((status.get("lastState") or {}).get("terminated") or {})
    return {}


def _init_spec(pod: dict[str, Any]) -> dict[str, Any]:
    for c in pod.get("spec", {}).get("initContainers") or []:
        if c.get("name") == STORAGE_INITIALIZER:
            return dict(c)
    return {}


def _storage_cause(isvc: dict[str, Any], members: list[dict[str, Any]]) -> Cause | None:
    failed = [(p, _terminated(_status_of(p, STORAGE_INITIALIZER, True))) for p in members]
    failed = [(p, t) for p, t in failed if t]
    if not failed:
        return None
    pod, terminated = failed[0]
    meta = isvc["metadata"]
    uri = ((isvc.get("spec") or {}).get("predictor") or {}).get("model", {}).get("storageUri")
    who = f"InferenceService {meta.get('namespace')}/{meta['name']}"
    restarts = sum(
        int(_status_of(p, STORAGE_INITIALIZER, True).get("restartCount") or 0) for p, _ in failed
    )
    if terminated.get("reason") == "OOMKilled":
        limit = ((_init_spec(pod).get("resources") or {}).get("limits") or {}).get("memory")
        size = parse_quantity(limit) if limit else None
        fix = (
            f"set memoryLimit (and memoryRequest) of storageInitializer in {KSERVE_CONFIG}: "
            "it has none, and the node's memory pressure kills it"
        )
        if size:
            bigger = format_bytes(max(2, -(-2 * size // 2**30)) * 2**30)
            fix = (
                f"raise storageInitializer.memoryLimit in {KSERVE_CONFIG} from {limit} to "
                f"{bigger} (2x the limit it was killed at; memoryRequest to match), then "
                "delete the predictor pods so that they start with it; the setting applies "
                "to every endpoint's storage-initializer"
            )
        return Cause(
            "DK404",
            f"{who} is not Ready: its storage-initializer was OOMKilled downloading {uri} "
            f"with memory limit {limit or 'none'} ({named([p for p, _ in failed])}, "
            f"{restarts} restarts)",
            fix,
        )
    info = ((isvc.get("status") or {}).get("modelStatus") or {}).get("lastFailureInfo") or {}
    said = str(info.get("message") or terminated.get("message") or "").strip()
    last = said.splitlines()[-1] if said else f"exit {terminated.get('exitCode', '?')}"
    fix = f"check storageUri {uri!r} (spec.predictor.model.storageUri)"
    if "Cannot recognize storage type" in said:
        fix += (
            ": the storage-initializer knows gs://, s3://, hf://, http(s)://, pvc:// and "
            "local paths"
        )
    elif "No model found" in said or "not found" in said:
        fix += ": the bucket and prefix must hold the model's files"
    elif "authentication" in said or "Access denied" in said:
        fix += ": give the predictor's service account the storage credentials"
    return Cause(
        "DK404",
        f"{who} is not Ready: its storage-initializer fails to download the model "
        f"from {uri} ({named([p for p, _ in failed])}, {restarts} restarts): {last}",
        fix,
        ("status", "modelStatus", "lastFailureInfo") if info else ("status", "conditions"),
    )


def _handler(probe: dict[str, Any]) -> str:
    """What the probe checks. KServe v0.20 gives a kserve-container without one a
    tcpSocket probe on its first port (8080 without ports): deployment_reconciler.go."""
    if get := probe.get("httpGet"):
        return f"httpGet {get.get('path', '/')} on port {get.get('port')}"
    if tcp := probe.get("tcpSocket"):
        return f"tcpSocket on port {tcp.get('port')}"
    if grpc := probe.get("grpc"):
        return f"grpc on port {grpc.get('port')}"
    if command := (probe.get("exec") or {}).get("command"):
        return f"exec {' '.join(map(str, command))}"
    return "probe"


def _probe(spec: dict[str, Any]) -> str:
    probe = spec.get("readinessProbe") or {}
    what = _handler(probe)
    delay = probe.get("initialDelaySeconds", 0)
    period = probe.get("periodSeconds", 10)
    threshold = probe.get("failureThreshold", 3)
    return f"{what} (initialDelaySeconds {delay}, periodSeconds {period}, failureThreshold " + (
        f"{threshold})"
    )


def _readiness_cause(
    evidence: Evidence, isvc: dict[str, Any], members: list[dict[str, Any]]
) -> Cause | None:
    """Predictor pods running whose server container runs but is not ready."""
    failing = [
        p
        for p in members
        if p.get("status", {}).get("phase") == "Running"
        and (_status_of(p, SERVER, False).get("state") or {}).get("running") is not None
        and _status_of(p, SERVER, False).get("ready") is False
    ]
    if not failing:
        return None
    names = {p["metadata"]["name"] for p in failing}
    said = next(
        (
            str(e.get("message", ""))
            for e in evidence.of("v1", "Event")
            if e.get("reason") == "Unhealthy"
            and (e.get("involvedObject") or {}).get("name") in names
            and "Readiness" in str(e.get("message", ""))
        ),
        "",
    )
    meta = isvc["metadata"]
    spec = container_spec(failing[0], SERVER)
    pod = failing[0]["metadata"]["name"]
    return Cause(
        "DK403",
        f"InferenceService {meta.get('namespace')}/{meta['name']} is not Ready: "
        f"{named(failing)} run but fail the readiness probe of {SERVER!r}, "
        f"{_probe(spec)}" + (f": {said}" if said else ""),
        f"read why the server is not ready: kubectl logs -n {meta.get('namespace')} {pod} "
        f"-c {SERVER}; if the model takes longer to load than the probe allows, add a "
        "startupProbe sized to the load time rather than failing readiness",
    )


def _cause(evidence: Evidence, isvc: dict[str, Any], members: list[dict[str, Any]]) -> Cause:
    meta = isvc["metadata"]
    who = f"InferenceService {meta.get('namespace')}/{meta['name']}"
    minimum = ((isvc.get("spec") or {}).get("predictor") or {}).get("minReplicas", 1)
    rejected = _knative_rejected(evidence, isvc)
    if rejected is not None:
        return Cause(
            "DK405",
            f"{who} is not Ready: it asks for {deployment_mode(isvc)} mode, which runs on Knative "
            "Serving, and "
            + (
                f"KServe rejected it: {rejected}"
                if rejected
                else "this cluster does not serve serving.knative.dev"
            ),
            "deploy it in Standard mode (annotation serving.kserve.io/deploymentMode: "
            "Standard; mlkube renders it for profile production), or install Knative Serving",
            ("metadata", "annotations", ISVC_MODE_ANNOTATION),
        )
    if not members and minimum == 0:
        return Cause(
            "DK406",
            f"{who} is scaled to zero (minReplicas 0, no requests of late): the first "
            "request waits for a cold start (pod, model download)",
        )
    found = _storage_cause(isvc, members) or _readiness_cause(evidence, isvc, members)
    if found is not None:
        return found
    ready = condition(isvc, "Ready")
    unready = [p for p in members if condition(p, "Ready").get("status") != "True"]
    if not members:
        cause = "no predictor pods exist: is the KServe controller running?"
    elif unready:
        cause = f"{named(unready)} not ready (pending, or the model still loading)"
    else:
        cause = ready.get("message") or "the controller has not reported it Ready"
    return Cause("DK401", f"{who} is not Ready: {cause}")


def _causes(evidence: Evidence) -> Iterator[tuple[dict[str, Any], Cause]]:
    by_endpoint: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for pod in pods(evidence):
        labels = pod["metadata"].get("labels") or {}
        if ISVC_LABEL in labels:
            key = (pod["metadata"].get("namespace"), labels[ISVC_LABEL])
            by_endpoint.setdefault(key, []).append(pod)
    for isvc in evidence.of(ISVC_API, "InferenceService"):
        if condition(isvc, "Ready").get("status") == "True":
            continue
        meta = isvc["metadata"]
        members = by_endpoint.get((meta.get("namespace"), meta["name"]), [])
        yield isvc, _cause(evidence, isvc, members)


def _report(rule: str) -> Callable[[Evidence], Iterator[Violation]]:
    def check(evidence: Evidence) -> Iterator[Violation]:
        for isvc, cause in _causes(evidence):
            if cause.rule == rule:
                yield Violation(at(evidence, _isvc(isvc), *cause.field), cause.message, cause.fix)

    return check


def endpoint_not_ready(evidence: Evidence) -> Iterator[Violation]:
    """Finds inference endpoints that are not Ready for a reason DK403-DK406 do not name.

    ## Why is this bad?
    Requests fail or wait: an endpoint that is not Ready serves nothing. This is what
    is left when no more specific cause applies: no pods, pods pending, the model still
    loading.

    ## Example
    ```yaml
    status:
      conditions: [{type: Ready, status: "False", reason: PredictorNotReady}]
    ```

    ## Use instead
    ```text
    kubectl get pods -l serving.kserve.io/inferenceservice=NAME   # and their events
    ```
    """
    return _report("DK401")(evidence)


def endpoint_readiness_failing(evidence: Evidence) -> Iterator[Violation]:
    """Finds endpoints whose predictor pods run but fail their readiness probe.

    ## Why is this bad?
    The Deployment never becomes Available, so KServe never reports the endpoint Ready
    and no traffic reaches it; a model that loads slower than the probe allows looks
    exactly like a broken server.

    ## Example
    ```yaml
    containerStatuses: [{name: kserve-container, ready: false, state: {running: {}}}]
    ```

    ## Use instead
    ```yaml
    startupProbe: {httpGet: {path: /v1/models/llm, port: 8080}, failureThreshold: 60}
    ```
    """
    return _report("DK403")(evidence)


def storage_initializer_failing(evidence: Evidence) -> Iterator[Violation]:
    """Finds endpoints whose storage-initializer cannot download the model.

    ## Why is this bad?
    Killed for memory (the finding gives the limit to set), or failing on the
    storageUri (the finding quotes its error), it keeps the predictor container from
    ever starting: the pod stays in `Init:CrashLoopBackOff` and KServe marks the model
    `BlockedByFailedLoad`.

    ## Example
    ```yaml
    modelStatus:
      lastFailureInfo: {reason: ModelLoadFailed, message: "RuntimeError: Failed to fetch
        model. No model found in gs://models/iris."}
    ```

    ## Use instead
    ```yaml
    predictor: {model: {storageUri: gs://models/iris/v1}}   # where the model files are
    ```
    """
    return _report("DK404")(evidence)


def knative_not_installed(evidence: Evidence) -> Iterator[Violation]:
    """Finds Knative-mode (`Serverless`) endpoints on a cluster without Knative Serving.

    ## Why is this bad?
    KServe rejects the endpoint ("It is not possible to use Knative deployment mode when
    Knative Services are not available", its event ``ServerlessModeRejected``, which the
    finding quotes): it never gets a pod.

    ## Example
    ```yaml
    metadata: {annotations: {serving.kserve.io/deploymentMode: Knative}}
    ```

    ## Use instead
    ```yaml
    metadata: {annotations: {serving.kserve.io/deploymentMode: Standard}}
    ```
    """
    return _report("DK405")(evidence)


def endpoint_scaled_to_zero(evidence: Evidence) -> Iterator[Violation]:
    """Finds endpoints scaled to zero (minReplicas 0 and no recent requests).

    ## Why is this bad?
    It is not broken, but the first request waits for a cold start: a pod to be
    scheduled and the model to be downloaded and loaded, minutes for a large model.

    ## Example
    ```yaml
    predictor: {minReplicas: 0}
    ```

    ## Use instead
    ```yaml
    predictor: {minReplicas: 1}   # no cold start, for an endpoint that must answer now
    ```
    """
    return _report("DK406")(evidence)


def _apiservice(evidence: Evidence) -> tuple[bool, dict[str, Any] | None]:
    """(whether the APIServices were read, the custom metrics one if registered)."""
    if APISERVICE not in evidence.objects:
        return False, None
    found = next(
        (
            a
            for a in evidence.of(*APISERVICE.rsplit("/", 1))
            if a["metadata"]["name"] == CUSTOM_METRICS
        ),
        None,
    )
    return True, found


def _metric(hpa: dict[str, Any]) -> str:
    message = str(condition(hpa, "ScalingActive").get("message", ""))
    marker = "unable to get metric "
    return message.split(marker, 1)[1].split(":", 1)[0] if marker in message else "the metric"


def _scaled_pods(evidence: Evidence, hpa: dict[str, Any]) -> list[dict[str, Any]]:
    """The pods of the HPA's scale target: those with it among their controllers."""
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    namespace = hpa["metadata"].get("namespace")
    index = owners(evidence)
    return [
        p
        for p in pods(evidence)
        if p["metadata"].get("namespace") == namespace
        and any(o.kind == ref.get("kind") and o.name == ref.get("name") for o in chain(p, index))
    ]


def _why(evidence: Evidence, hpa: dict[str, Any]) -> tuple[str, str] | None:
    """Why the HPA cannot read its metric, and the fix, when the evidence tells."""
    metric = _metric(hpa)
    message = str(condition(hpa, "ScalingActive").get("message", ""))
    read, api = _apiservice(evidence)
    if read and api is None:
        return (
            f"no APIService registers custom.metrics.k8s.io ({CUSTOM_METRICS}): no metrics "
            "adapter is installed",
            "install prometheus-adapter with mlkube's rule for "
            f"{metric} (mlkube render writes it); it registers {CUSTOM_METRICS}",
        )
    available = condition(api, "Available") if api is not None else {}
    if api is not None and available.get("status") != "True":
        service = (api.get("spec") or {}).get("service") or {}
        return (
            f"APIService {CUSTOM_METRICS} is not Available: {available.get('reason')}: "
            f"{available.get('message', '')}",
            f"the adapter behind it (Service {service.get('namespace')}/{service.get('name')}) "
            "does not answer: check that its pods run and its Service selects them",
        )
    not_found = f"could not find the metric {metric} for pods" in message
    empty = "no metrics returned from custom metrics API" in message
    scaled = _scaled_pods(evidence, hpa) if not_found or empty else []
    if scaled and not any(gpus_of(p) for p in scaled):
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        return (
            f"no series of {metric} for these pods: the pods of {ref.get('kind')} "
            f"{hpa['metadata'].get('namespace')}/{ref.get('name')} ({named(scaled)}) use "
            "no GPU, and dcgm-exporter reports only the GPUs pods use",
            f"give the pods their GPU (resources.limits {GPU}), or scale them on a metric "
            "they have (cpu)",
        )
    if not_found:  # prometheus-adapter: no series of any pod has the metric's name
        who = "although these pods use GPUs" if scaled else "labelled with namespace and pod"
        return (
            f"the adapter serves no {metric} for pods {who}: its rule does not match the "
            "exporter's labels (its seriesQuery and resources must name namespace and pod), "
            "no rule names the metric, or the exporter's series carry no pod label "
            "(dcgm-exporter without DCGM_EXPORTER_KUBERNETES=true); `mlkube preflight` "
            "reads the adapter's rule and says which",
            f'serve it with seriesQuery \'{metric}{{namespace!="",pod!=""}}\' and '
            "resources.overrides namespace→namespace, pod→pod; run dcgm-exporter with "
            "DCGM_EXPORTER_KUBERNETES=true so that its series carry the GPU pod's labels",
        )
    if empty:  # the metric is served, for other pods only
        return (
            f"the adapter knows {metric} but has no series for these pods: the exporter's "
            "series name other pods",
            "scrape dcgm-exporter with honorLabels: true — without it Prometheus keeps the "
            "exporter's own pod as `pod` and moves the GPU pod's to `exported_pod`; and "
            "check that the pods' nodes run dcgm-exporter",
        )
    return None


def hpa_metric_unavailable(evidence: Evidence) -> Iterator[Violation]:
    """Finds HorizontalPodAutoscalers that cannot read their metric, and says why.

    ## Why is this bad?
    The endpoint never scales: the HPA keeps its replicas whatever the load. The cause
    is named when the evidence shows it: no metrics adapter registered, its APIService
    not Available, its rule not matching the exporter's labels (or the exporter's series
    carrying no pod label), no series for these pods because they use no GPU, or series
    naming other pods (scraped without honorLabels).

    ## Example
    ```yaml
    conditions: [{type: ScalingActive, status: "False", reason: FailedGetPodsMetric,
      message: "the HPA was unable to compute the replica count: unable to get metric
        DCGM_FI_DEV_GPU_UTIL: no metrics returned from custom metrics API"}]
    ```

    ## Use instead
    ```yaml
    rules:
      - seriesQuery: 'DCGM_FI_DEV_GPU_UTIL{namespace!="",pod!=""}'
        resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
        name: {as: DCGM_FI_DEV_GPU_UTIL}
    ```
    """
    for hpa in evidence.of("autoscaling/v2", "HorizontalPodAutoscaler"):
        active = condition(hpa, "ScalingActive")
        # ScalingDisabled (a target scaled to 0 on purpose) is not a metric problem.
        if active.get("status") != "False" or not str(active.get("reason", "")).startswith(
            "FailedGet"
        ):
            continue
        meta = hpa["metadata"]
        why = _why(evidence, hpa)
        said = f"{active.get('reason')}: {active.get('message', '')}"
        yield Violation(
            at(
                evidence,
                {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", **hpa},
                "status",
                "conditions",
            ),
            f"HPA {meta.get('namespace')}/{meta['name']} cannot scale: "
            + (f"{why[0]} ({said})" if why else said),
            why[1] if why else None,
        )


_CUSTOM_FAILURES = ("FailedGetPodsMetric", "FailedGetObjectMetric")


def wants_apiservices(evidence: Evidence) -> bool:
    """An HPA fails on a custom metric: doctor lists the APIServices to say why."""
    return any(
        condition(h, "ScalingActive").get("reason")
        in ("FailedGetPodsMetric", "FailedGetObjectMetric")
        for h in evidence.of("autoscaling/v2", "HorizontalPodAutoscaler")
    )


def wants_knative(evidence: Evidence) -> bool:
    """A Knative-mode endpoint: doctor asks whether Knative Services are served."""
    endpoints = evidence.of(ISVC_API, "InferenceService")
    return any(deployment_mode(i) in KNATIVE_MODES for i in endpoints)


RULES: tuple[Rule[Evidence], ...] = (
    Rule("DK401", Severity.WARNING, "Look at the predictor pods.", endpoint_not_ready),
    Rule("DK402", Severity.ERROR, "Serve the metric through the adapter.", hpa_metric_unavailable),
    Rule(
        "DK403",
        Severity.ERROR,
        "Make the server pass its readiness probe, or probe it for longer.",
        endpoint_readiness_failing,
    ),
    Rule(
        "DK404",
        Severity.ERROR,
        "Fix the storageUri, or give the storage-initializer the memory it needs.",
        storage_initializer_failing,
    ),
    Rule(
        "DK405",
        Severity.ERROR,
        "Deploy in Standard mode, or install Knative Serving.",
        knative_not_installed,
    ),
    Rule(
        "DK406",
        Severity.INFO,
        "Keep minReplicas 1 for an endpoint that must answer at once.",
        endpoint_scaled_to_zero,
    ),
)
