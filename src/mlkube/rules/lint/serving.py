"""Rules on serving endpoints: replicas, zones, readiness, model storage, disruption."""

from __future__ import annotations

from collections.abc import Iterator

from mlkube.manifests.objects import Manifest
from mlkube.rules.lint.endpoints import Endpoint
from mlkube.rules.lint.inventory import Inventory, selects
from mlkube.rules.model import Rule, Severity, Violation
from mlkube.wellknown import ZONE_LABEL


def _serving(inv: Inventory) -> Iterator[Endpoint]:
    """The endpoints of the input: InferenceService predictors, and the Deployments and
    StatefulSets that get accelerators (from a device plugin or a DRA claim) and serve,
    by a port, an HTTP probe or a model server of their own or through a Service of the
    input that selects them. A GPU burn-in serves nothing."""
    for e in inv.endpoints:
        if e.self_evident or inv.service_selects(e.namespace, e.labels):
            yield e


def endpoint_single_replica(inv: Inventory) -> Iterator[Violation]:
    """Finds serving endpoints that run a single replica.

    ## Why is this bad?
    One replica means every rollout, node drain, spot reclaim or node failure drops
    the endpoint's traffic until a new pod has pulled its image, loaded the model and
    passed its readiness probe: minutes, for a large model. An InferenceService
    predictor without `minReplicas` runs one replica (KServe's default), and so does
    a Deployment without `replicas`. Production endpoints want at least two, better
    three spread over zones; a development endpoint can scale to zero instead.
    Endpoints are InferenceService predictors, and the Deployments and StatefulSets
    that get accelerators (from a device plugin or a DRA claim) and serve: a container
    port, an HTTP or gRPC readiness probe, a known model server (vLLM, Triton, TGI,
    SGLang, …), or a Service of the input that selects their pods. A GPU burn-in that
    listens to nothing is no endpoint.

    ## Example
    ```yaml
    kind: InferenceService
    spec:
      predictor:
        model:
          modelFormat: {name: huggingface}
          storageUri: s3://models/llm
    ```

    ## Use instead
    ```yaml
    kind: InferenceService
    spec:
      predictor:
        minReplicas: 3
        model:
          modelFormat: {name: huggingface}
          storageUri: s3://models/llm
    ```
    """
    for endpoint in _serving(inv):
        if endpoint.replicas == 1:
            default = "" if endpoint.written else ", and the default is 1"
            yield Violation(
                endpoint.replicas_at,
                f"{endpoint.what} runs a single replica ({endpoint.count}{default}): "
                "every rollout or node loss takes the endpoint down",
            )


def endpoint_zone_spread_missing(inv: Inventory) -> Iterator[Violation]:
    """Finds replicated serving endpoints that do not spread their replicas over zones.

    ## Why is this bad?
    The scheduler packs pods where they fit: GPU nodes are few, so all replicas of an
    endpoint often land in one zone, or on one node. A zone outage (or the loss of
    that node) then takes every replica at once, and the extra replicas bought no
    availability. A `topologySpreadConstraints` entry on `topology.kubernetes.io/zone`
    (or a pod anti-affinity on that key) keeps them apart. KServe components are pod
    specs, so the predictor takes the field inline.

    ## Example
    ```yaml
    spec:
      predictor:
        minReplicas: 3
        model: {modelFormat: {name: huggingface}, storageUri: s3://models/llm}
    ```

    ## Use instead
    ```yaml
    spec:
      predictor:
        minReplicas: 3
        topologySpreadConstraints:
          - maxSkew: 1
            topologyKey: topology.kubernetes.io/zone
            whenUnsatisfiable: ScheduleAnyway
            labelSelector:
              matchLabels: {serving.kserve.io/inferenceservice: llm}
        model: {modelFormat: {name: huggingface}, storageUri: s3://models/llm}
    ```
    """
    for endpoint in _serving(inv):
        if endpoint.replicas >= 2 and not endpoint.spreads:
            yield Violation(
                endpoint.spread_at,
                f"{endpoint.what} runs {endpoint.replicas} replicas with no topology spread "
                f"or anti-affinity on {ZONE_LABEL}: one zone outage can take them all",
            )


def serving_readiness_probe_missing(inv: Inventory) -> Iterator[Violation]:
    """Finds accelerator serving containers and custom KServe predictors without a
    readiness probe.

    ## Why is this bad?
    Without a readiness probe a pod receives traffic as soon as its container starts,
    or, where KServe and Knative add their default TCP probe, as soon as the port
    opens: in both cases before a model of many gigabytes has loaded onto the GPU.
    Requests fail during every rollout and scale-up. KServe's built-in runtimes get
    their probes from the ServingRuntime; a custom container has to bring its own.

    ## Example
    ```yaml
    containers:
      - name: kserve-container
        image: vllm/vllm-openai:v0.6.3
        resources:
          limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    containers:
      - name: kserve-container
        image: vllm/vllm-openai:v0.6.3
        readinessProbe:
          httpGet: {path: /health, port: 8000}
          periodSeconds: 10
        resources:
          limits: {nvidia.com/gpu: 1}
    ```
    """
    for endpoint in _serving(inv):
        for unprobed in endpoint.unprobed:
            yield Violation(
                unprobed.at,
                f"{unprobed.named} has no readinessProbe: it gets traffic before its model "
                "has loaded",
            )


def model_storage_uri_missing(inv: Inventory) -> Iterator[Violation]:
    """Finds KServe model predictors that do not say where their model is stored.

    ## Why is this bad?
    Without `storageUri` the model has to be baked into the image: images of 20 GB
    that pull slowly on every new node, and a rebuild and push for every new model
    version. With `storageUri`, KServe's storage-initializer pulls the weights from
    object storage (or a PVC) into `/mnt/models` before the server starts. A
    multi-model server has no storageUri of its own: its TrainedModels carry one each,
    and when one in the input names the InferenceService, the predictor is not
    reported.

    ## Example
    ```yaml
    predictor:
      model:
        modelFormat: {name: huggingface}
        image: registry.example.com/llm-with-weights:v7
    ```

    ## Use instead
    ```yaml
    predictor:
      model:
        modelFormat: {name: huggingface}
        storageUri: s3://models/llm/v7
    ```
    """
    for use in inv.storageless_models:
        if not inv.trained_models(use.service):
            yield Violation(
                use.at,
                f"predictor.{use.framework} sets no storageUri and no TrainedModel of the "
                "input loads into it: the model weights must be in the image",
            )


def endpoint_pdb_missing(inventory: Inventory) -> Iterator[Violation]:
    """Finds replicated serving endpoints that no PodDisruptionBudget protects.

    ## Why is this bad?
    Without a PodDisruptionBudget, `kubectl drain`, node upgrades and the cluster
    autoscaler may evict every replica of an endpoint at once: the replicas run for
    availability, and a routine drain still takes the endpoint down. KServe labels
    predictor pods `serving.kserve.io/inferenceservice: <name>`; a budget selecting
    that label makes drains wait for replacements.

    ## Example
    ```yaml
    kind: InferenceService
    metadata: {name: llm, namespace: serving}
    spec:
      predictor: {minReplicas: 3}
    ```

    ## Use instead
    ```yaml
    kind: PodDisruptionBudget
    metadata: {name: llm, namespace: serving}
    spec:
      maxUnavailable: 1
      selector:
        matchLabels: {serving.kserve.io/inferenceservice: llm, component: predictor}
    ```
    """
    for e in _serving(inventory):
        if e.replicas < 2:
            continue
        budgets = inventory.namespaced("PodDisruptionBudget", e.namespace)
        if not any(selects(b.get("spec", "selector"), e.labels) for b in budgets):
            role = f"{e.role} " if e.role else ""
            yield Violation(
                e.at,
                f"{e.obj} runs {e.replicas} {role}replicas and no PodDisruptionBudget "
                f"in namespace {e.namespace} selects them",
            )


OBJECT_RULES: tuple[Rule[Manifest], ...] = ()

INPUT_RULES: tuple[Rule[Inventory], ...] = (
    Rule(
        "MK301",
        Severity.WARNING,
        "Run at least 2 replicas (3 across zones in production), or 0 to scale a "
        "development endpoint to zero.",
        endpoint_single_replica,
    ),
    Rule(
        "MK302",
        Severity.WARNING,
        "Add a topologySpreadConstraints entry on topology.kubernetes.io/zone.",
        endpoint_zone_spread_missing,
    ),
    Rule(
        "MK303",
        Severity.WARNING,
        "Add a readinessProbe that passes only once the model is loaded.",
        serving_readiness_probe_missing,
    ),
    Rule(
        "MK304",
        Severity.WARNING,
        "Set storageUri to the model's location in object storage, or load it with a TrainedModel.",
        model_storage_uri_missing,
    ),
    Rule(
        "MK305",
        Severity.WARNING,
        "Add a PodDisruptionBudget (maxUnavailable: 1) that selects the endpoint's pods.",
        endpoint_pdb_missing,
    ),
)
