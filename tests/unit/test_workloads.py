"""Pod templates are found inside every workload kind, with paths that map to lines."""

from __future__ import annotations

import pytest

from mlkube.lint import lint_manifests
from mlkube.manifests.objects import manifests
from mlkube.manifests.workloads import pod_templates
from mlkube.manifests.yamlstream import read_text

CONTAINER = "{name: main, image: 'trainer:1.0', resources: {requests: {nvidia.com/gpu: 2}}}"

KINDS = {
    "CronJob": f"""\
apiVersion: batch/v1
kind: CronJob
metadata: {{name: w, namespace: ml}}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{CONTAINER}]
""",
    "TrainJob": """\
apiVersion: trainer.kubeflow.org/v1alpha1
kind: TrainJob
metadata: {name: w, namespace: ml}
spec:
  runtimeRef: {name: torch-distributed}
  trainer:
    image: trainer:1.0
    numNodes: 4
    resourcesPerNode:
      requests: {nvidia.com/gpu: 2}
""",
    "JobSet": f"""\
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata: {{name: w, namespace: ml}}
spec:
  replicatedJobs:
    - name: workers
      replicas: 2
      template:
        spec:
          parallelism: 3
          template:
            spec:
              containers: [{CONTAINER}]
""",
    "RayJob": f"""\
apiVersion: ray.io/v1
kind: RayJob
metadata: {{name: w, namespace: ml}}
spec:
  rayClusterSpec:
    headGroupSpec:
      template:
        spec:
          containers: [{{name: head, image: 'ray:2.9'}}]
    workerGroupSpecs:
      - groupName: gpu
        replicas: 4
        template:
          spec:
            containers: [{CONTAINER}]
""",
    "InferenceService": """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: w, namespace: ml}
spec:
  predictor:
    minReplicas: 2
    model:
      modelFormat: {name: huggingface}
      storageUri: hf://m/m
      resources:
        requests: {nvidia.com/gpu: 2}
""",
}
EXPECTED = {  # kind: (role of the GPU template, its replicas, line of the GPU request)
    "CronJob": ("", 1, 10),
    "TrainJob": ("node", 4, 10),
    "JobSet": ("workers", 6, 13),
    "RayJob": ("gpu", 4, 15),
    "InferenceService": ("predictor", 2, 11),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_gpu_template_is_found_with_role_replicas_and_line(kind: str) -> None:
    (m,) = manifests(read_text(KINDS[kind], f"{kind}.yaml"))
    gpu = [t for t in pod_templates(m) if t.accelerators() == 2]
    assert len(gpu) == 1
    role, replicas, line = EXPECTED[kind]
    assert (gpu[0].role, gpu[0].replicas) == (role, replicas)
    findings = lint_manifests([m]).findings
    missing = [f for f in findings if f.rule == "MK101"]  # request without a limit
    assert [f.where.line for f in missing] == [line], [f.where for f in missing]


def test_kinds_that_run_no_pods_have_no_templates() -> None:
    (m,) = manifests(read_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "c"))
    assert pod_templates(m) == ()
