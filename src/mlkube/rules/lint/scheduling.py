"""Rules on where and at what priority accelerator workloads are scheduled."""

from __future__ import annotations

from collections.abc import Iterator

from mlkube.manifests.objects import Manifest
from mlkube.manifests.trainer import EffectiveTrainJob, is_runtime, is_trainjob
from mlkube.rules.lint.common import accelerator_templates
from mlkube.rules.lint.inventory import Inventory
from mlkube.rules.model import Rule, Severity, Violation


def gpu_priority_class_missing(m: Manifest) -> Iterator[Violation]:
    """Finds accelerator pod templates without a priorityClassName.

    ## Why is this bad?
    A pod without a priority class has priority 0, the same as every web pod and
    cron job in the cluster. When accelerator nodes run short, the scheduler cannot
    preempt lower-priority work for it, and nothing protects a multi-hour training
    run from being preempted by whatever arrives with a higher priority.

    ## Example
    ```yaml
    spec:
      containers:
        - name: pytorch
          resources:
            limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    spec:
      priorityClassName: ml-training-high
      containers:
        - name: pytorch
          resources:
            limits: {nvidia.com/gpu: 8}
    ```
    """
    if is_trainjob(m) and not isinstance(m, EffectiveTrainJob):
        return  # a trainer block is no pod spec: the priority is the runtime's
    for template in accelerator_templates(m):
        if not template.spec.get("priorityClassName"):
            yield Violation(
                template.at("priorityClassName"),
                f"the accelerator {template.where} of {m.ref} set no priorityClassName",
            )


def gpu_workload_default_namespace(m: Manifest) -> Iterator[Violation]:
    """Finds accelerator workloads in the default namespace, or with no namespace at all.

    ## Why is this bad?
    The `default` namespace usually has no accelerator quota, no Kueue LocalQueue and
    no network isolation: an accelerator job there bypasses every limit the platform
    sets for its team. A manifest without `metadata.namespace` lands wherever the applying
    context points, which is `default` more often than intended.

    ## Example
    ```yaml
    metadata:
      name: train-llama
    ```

    ## Use instead
    ```yaml
    metadata:
      name: train-llama
      namespace: ml-research
    ```
    """
    if (
        m.ref.namespace not in (None, "default")
        or is_runtime(m)
        or not any(accelerator_templates(m))
    ):
        return
    if m.ref.namespace is None:
        message = f"accelerator workload {m.ref} sets no namespace and may land in 'default'"
    else:
        message = f"accelerator workload {m.ref} runs in the 'default' namespace"
    yield Violation(m.at("metadata", "namespace"), message)


OBJECT_RULES: tuple[Rule[Manifest], ...] = (
    Rule(
        "MK501",
        Severity.INFO,
        "Give accelerator pods a PriorityClass above the cluster's default workloads.",
        gpu_priority_class_missing,
    ),
    Rule(
        "MK502",
        Severity.WARNING,
        "Run accelerator workloads in a team namespace that has a quota and a queue.",
        gpu_workload_default_namespace,
    ),
)
INPUT_RULES: tuple[Rule[Inventory], ...] = ()
