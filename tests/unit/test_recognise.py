"""What a workload is, by what it does: accelerators, PyTorch, training, serving.

Each decision is tested firing and not firing on small manifests; the fixtures in
tests/recognise/, shaped after upstream examples, are linted whole and must give
exactly the findings their ``# expect:`` marks name (worked out by hand).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.lint import lint_manifests, lint_paths
from mlkube.manifests.accelerators import (
    accelerator,
    claim_device_classes,
    claim_sources,
    counts_devices,
    gpu_device_class,
    nvidia,
)
from mlkube.manifests.claims import with_device_claims
from mlkube.manifests.objects import Manifest, manifests
from mlkube.manifests.recognise import (
    launches_mpi,
    rendezvous,
    runs_pytorch,
    serves,
    storageless_models,
    trained_model_host,
    trains,
)
from mlkube.manifests.workloads import Container, pod_templates
from mlkube.manifests.yamlstream import read_text

FIXTURES = Path(__file__).parent.parent / "recognise"


def _one(text: str) -> Manifest:
    (m,) = manifests(read_text(text, "t.yaml"))
    return m


# Accelerators ------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        "nvidia.com/gpu", "nvidia.com/gpu.shared", "nvidia.com/mig-1g.5gb",
        "nvidia.com/mig-3g.40gb", "amd.com/gpu", "gpu.intel.com/i915", "gpu.intel.com/xe",
        "gpu.intel.com/millicores", "habana.ai/gaudi", "google.com/tpu",
        "aws.amazon.com/neuron", "aws.amazon.com/neuroncore", "aws.amazon.com/neurondevice",
    ],
)  # fmt: skip
def test_accelerator_resources(resource: str) -> None:
    assert accelerator(resource)


@pytest.mark.parametrize(
    "resource",
    ["cpu", "memory", "hugepages-2Mi", "nvidia.com/rdma_shared_device_a", "vpc.amazonaws.com/efa",
     "example.com/foo", "ephemeral-storage", "gpu.intel.com/i915_monitoring"],
)  # fmt: skip
def test_other_resources_are_not_accelerators(resource: str) -> None:
    assert not accelerator(resource)


def test_intel_shares_are_accelerators_but_not_device_counts() -> None:
    assert counts_devices("gpu.intel.com/i915") and counts_devices("nvidia.com/mig-1g.5gb")
    assert not counts_devices("gpu.intel.com/millicores")
    assert not counts_devices("gpu.intel.com/memory.max")
    assert not counts_devices("cpu")


def test_nvidia_resources() -> None:
    assert nvidia("nvidia.com/gpu") and nvidia("nvidia.com/mig-2g.10gb")
    assert nvidia("nvidia.com/gpu.shared")
    assert not nvidia("amd.com/gpu") and not nvidia("google.com/tpu")
    assert not nvidia("nvidia.com/rdma_shared_device_a")


@pytest.mark.parametrize(
    ("name", "gpu"),
    [
        ("gpu.nvidia.com", True), ("mig.nvidia.com", True), ("gpu.amd.com", True),
        ("gpu.intel.com", True), ("gaudi.intel.com", True), ("gpu.example.com", True),
        ("compute-domain-default-channel.nvidia.com", False),
        ("compute-domain-daemon.nvidia.com", False), ("dra.net", False), ("gpu", False),
        ("sriovnetwork.k8snetworkplumbingwg.io", False),
    ],
)  # fmt: skip
def test_gpu_device_classes(name: str, gpu: bool) -> None:
    assert gpu_device_class(name) is gpu


def test_claim_device_classes_in_every_api_version() -> None:
    v1 = _one("""\
apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: t}
spec:
  spec:
    devices:
      requests:
        - name: gpu
          exactly: {deviceClassName: gpu.nvidia.com, count: 2}
        - name: either
          firstAvailable:
            - {name: big, deviceClassName: gpu.amd.com}
            - {name: small, deviceClassName: mig.nvidia.com}
""")
    beta = _one("""\
apiVersion: resource.k8s.io/v1beta1
kind: ResourceClaim
metadata: {name: c}
spec:
  devices:
    requests:
      - {name: gpu, deviceClassName: gpu.intel.com}
""")
    # One entry per device; of firstAvailable's alternatives, the first.
    assert claim_device_classes(v1) == ("gpu.nvidia.com", "gpu.nvidia.com", "gpu.amd.com")
    assert claim_device_classes(beta) == ("gpu.intel.com",)


def test_claim_sources_follow_the_container_to_the_pod_claim() -> None:
    pod = {
        "resourceClaims": [
            {"name": "gpu0", "resourceClaimTemplateName": "single-gpu"},
            {"name": "shared", "resourceClaimName": "shared-gpu"},
            {"name": "unused", "resourceClaimTemplateName": "other"},
        ]
    }
    container = {"resources": {"claims": [{"name": "gpu0"}, {"name": "shared"}]}}
    assert claim_sources(pod, container) == (
        ("ResourceClaimTemplate", "single-gpu"),
        ("ResourceClaim", "shared-gpu"),
    )
    assert claim_sources(pod, {"resources": {"limits": {"cpu": 1}}}) == ()


_DRA = """\
apiVersion: v1
kind: Pod
metadata: {name: early, namespace: ml}
spec:
  containers:
    - {name: a, image: 'r/a:1', resources: {claims: [{name: g}]}}
    - {name: b, image: 'r/a:1'}
  resourceClaims: [{name: g, resourceClaimTemplateName: two-gpus}]
---
apiVersion: v1
kind: Pod
metadata: {name: unknown, namespace: ml}
spec:
  containers: [{name: a, image: 'r/a:1', resources: {claims: [{name: g}]}}]
  resourceClaims: [{name: g, resourceClaimTemplateName: elsewhere}]
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: two-gpus, namespace: ml}
spec:
  spec:
    devices:
      requests: [{name: g, exactly: {deviceClassName: gpu.amd.com, count: 2}}]
---
apiVersion: v1
kind: Pod
metadata: {name: late, namespace: ml}
spec:
  containers: [{name: a, image: 'r/a:1', resources: {claims: [{name: g}]}}]
  resourceClaims: [{name: g, resourceClaimTemplateName: two-gpus}]
---
apiVersion: v1
kind: Pod
metadata: {name: other-namespace, namespace: web}
spec:
  containers: [{name: a, image: 'r/a:1', resources: {claims: [{name: g}]}}]
  resourceClaims: [{name: g, resourceClaimTemplateName: two-gpus}]
"""


def test_pods_wait_for_the_claims_they_name() -> None:
    out = list(with_device_claims(manifests(read_text(_DRA, "dra.yaml"))))
    # Each object once; a pod whose claims are not read yet waits for the end.
    names = [m.ref.name for m in out]
    assert names == ["two-gpus", "late", "early", "unknown", "other-namespace"]
    devices = {m.ref.name: [c.accelerators() for t in pod_templates(m) for c in t.containers]
               for m in out if m.ref.kind == "Pod"}  # fmt: skip
    assert devices == {
        "late": [2.0],
        "early": [2.0, 0.0],  # only the container that uses the claim
        "unknown": [0.0],  # its template is not in the input
        "other-namespace": [0.0],  # a claim template is namespaced
    }


def test_container_accelerators_count_devices() -> None:
    both = Container(
        {"resources": {"requests": {"google.com/tpu": 4}, "limits": {"google.com/tpu": 4}}}, ()
    )
    share = Container({"resources": {"limits": {"gpu.intel.com/millicores": 500}}}, ())
    mixed = Container(
        {"resources": {"limits": {"gpu.intel.com/i915": 2, "gpu.intel.com/millicores": 2000}}},
        (),
    )
    request_only = Container({"resources": {"requests": {"habana.ai/gaudi": 2}}}, ())
    assert both.accelerators() == 4
    assert share.accelerators() == 1  # a share of one device occupies that device
    assert mixed.accelerators() == 2
    assert request_only.accelerators() == 2
    assert Container({"resources": {"limits": {"cpu": 4}}}, ()).accelerators() == 0


# PyTorch, MPI, training --------------------------------------------------------


def _job(container: str) -> Manifest:
    return _one(f"""\
apiVersion: batch/v1
kind: Job
metadata: {{name: j, namespace: ml}}
spec:
  template:
    spec:
      containers: [{container}]
""")


def _jobset(container: str) -> Manifest:
    return _one(f"""\
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata: {{name: j, namespace: ml}}
spec:
  replicatedJobs:
    - name: workers
      template:
        spec:
          parallelism: 2
          template:
            spec:
              containers: [{container}]
""")


def _first(m: Manifest) -> bool:
    (t, *_) = pod_templates(m)
    return runs_pytorch(m, t)


@pytest.mark.parametrize(
    "container",
    [
        "{name: c, image: r/app:1, command: [torchrun, --nnodes=2, train.py]}",
        "{name: c, image: r/app:1, command: [python, -m, torch.distributed.run, train.py]}",
        "{name: c, image: r/a:1, command: [sh, -c, 'python -m torch.distributed.launch x']}",
        "{name: c, image: r/app:1, command: [python, t.py], env: [{name: PET_NNODES, value: '2'}]}",
        "{name: c, image: r/app:1, command: [python, t.py], env: [{name: MASTER_ADDR, value: m}]}",
        "{name: c, image: r/a:1, command: [python, t.py], env: [{name: NCCL_DEBUG, value: INFO}]}",
        "{name: c, image: 'pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime', command: [python]}",
    ],
)  # fmt: skip
def test_a_jobset_runs_pytorch_by_what_it_runs(container: str) -> None:
    assert _first(_jobset(container))


@pytest.mark.parametrize(
    "container",
    [
        "{name: c, image: r/app:1, command: [python, t.py]}",
        "{name: c, image: 'python:3.12', command: [python3, -m, MaxText.train]}",
        "{name: c, image: r/a:1, command: [python, t.py], env: [{name: MASTER_PORT, value: '1'}]}",
    ],
)  # fmt: skip
def test_a_jobset_without_torch_does_not(container: str) -> None:
    assert not _first(_jobset(container))


def test_mpi_jobs_run_pytorch_only_when_they_name_it() -> None:
    lammps = _one("""\
apiVersion: kubeflow.org/v2beta1
kind: MPIJob
metadata: {name: lammps, namespace: hpc}
spec:
  mpiReplicaSpecs:
    Worker:
      template:
        spec:
          containers:
            - {name: w, image: 'r/lammps:1', env: [{name: NCCL_DEBUG, value: INFO}]}
""")
    nccl = _job(
        "{name: n, image: r/nccl-tests:2, command: [sh, -c, 'mpirun -np 16 all_reduce_perf'],"
        " env: [{name: NCCL_DEBUG, value: INFO}]}"
    )
    horovod_torch = _job(
        "{name: h, image: r/app:1, command: [mpirun, -np, '4', python, pytorch_mnist.py]}"
    )
    deepspeed = _job("{name: d, image: r/app:1, command: [mpirun, -np, '2', deepspeed, t.py]}")
    cases = ((lammps, False), (nccl, False), (horovod_torch, True), (deepspeed, True))
    for m, torch in cases:
        (t,) = pod_templates(m)
        assert launches_mpi(m, t)
        assert runs_pytorch(m, t) is torch, m.ref


def test_kinds_that_say_pytorch() -> None:
    pytorchjob = _one("""\
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: p, namespace: ml}
spec:
  pytorchReplicaSpecs:
    Worker:
      template:
        spec:
          containers: [{name: pytorch, image: r/app:1, command: [python, t.py]}]
""")
    assert _first(pytorchjob)
    on_torch = _one("""\
apiVersion: trainer.kubeflow.org/v1alpha1
kind: TrainJob
metadata: {name: t, namespace: ml}
spec:
  runtimeRef: {name: torch-distributed}
  trainer: {image: r/app:1, command: [python, t.py]}
""")
    on_mlx = _one("""\
apiVersion: trainer.kubeflow.org/v1alpha1
kind: TrainJob
metadata: {name: t, namespace: ml}
spec:
  runtimeRef: {name: mlx-distributed}
  trainer: {image: r/app:1, command: [python, t.py]}
""")
    assert _first(on_torch) and not _first(on_mlx)


def _runtime(policy: str) -> Manifest:
    return _one(f"""\
apiVersion: trainer.kubeflow.org/v1alpha1
kind: ClusterTrainingRuntime
metadata: {{name: r}}
spec:
  mlPolicy: {{numNodes: 1, {policy}}}
  template:
    spec:
      replicatedJobs:
        - name: node
          template:
            metadata:
              labels: {{trainer.kubeflow.org/trainjob-ancestor-step: trainer}}
            spec:
              template:
                spec:
                  containers: [{{name: node, image: 'r/mpi:1', command: [mpirun, app]}}]
""")


def test_a_runtime_runs_pytorch_by_its_policy() -> None:
    assert _first(_runtime("torch: {}"))
    assert not _first(_runtime("mpi: {numProcPerNode: 1}"))


def test_trains() -> None:
    gpu_job = _job("{name: c, image: r/app:1, resources: {limits: {google.com/tpu: 4}}}")
    cpu_job = _job("{name: c, image: r/app:1, command: [python, etl.py]}")
    raycluster = _one("""\
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: r, namespace: ml}
spec:
  headGroupSpec:
    template:
      spec:
        containers: [{name: head, image: 'rayproject/ray:2.45.0'}]
  workerGroupSpecs:
    - groupName: w
      replicas: 2
      template:
        spec:
          containers:
            - {name: w, image: 'rayproject/ray:2.45.0', command: [torchrun, --nnodes=2, t.py]}
""")
    server = _deployment("{name: s, image: r/app:1, resources: {limits: {nvidia.com/gpu: 1}}}")
    mpi_cpu = _job(
        "{name: l, image: r/lammps:1, command: [mpirun, lmp], env: [{name: MASTER_ADDR, value: x}]}"
    )
    assert all(trains(gpu_job, t) for t in pod_templates(gpu_job))
    assert not any(trains(cpu_job, t) for t in pod_templates(cpu_job))
    head, worker = pod_templates(raycluster)
    assert trains(raycluster, worker) and not trains(raycluster, head)
    assert not any(trains(server, t) for t in pod_templates(server))
    assert not any(trains(mpi_cpu, t) for t in pod_templates(mpi_cpu))
    vllm = _deployment(
        "{name: v, image: 'vllm/vllm-openai:v0.6.3', env: [{name: NCCL_P2P_DISABLE, value: '1'}],"
        " resources: {limits: {nvidia.com/gpu: 2}}}"
    )
    assert not any(trains(vllm, t) for t in pod_templates(vllm))
    for policy, batch in (("Never", True), ("OnFailure", True), ("Always", False)):
        pod = _one(f"""\
apiVersion: v1
kind: Pod
metadata: {{name: p, namespace: ml}}
spec:
  restartPolicy: {policy}
  containers: [{{name: c, image: 'r/a:1', resources: {{limits: {{amd.com/gpu: 1}}}}}}]
""")
        assert all(trains(pod, t) is batch for t in pod_templates(pod)), policy


def test_rendezvous() -> None:
    torchrun = _jobset("{name: c, image: r/a:1, command: [torchrun, t.py]}")
    batch = _job("{name: c, image: r/a:1, resources: {limits: {nvidia.com/gpu: 1}}}")
    mpi = _job("{name: c, image: r/a:1, command: [mpirun, -np, '4', lmp]}")
    assert all(rendezvous(torchrun, t) for t in pod_templates(torchrun))
    assert not any(rendezvous(batch, t) for t in pod_templates(batch))
    assert all(rendezvous(mpi, t) for t in pod_templates(mpi))


# Serving -----------------------------------------------------------------------


def _deployment(container: str) -> Manifest:
    return _one(f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: d, namespace: ml}}
spec:
  template:
    spec:
      containers: [{container}]
""")


@pytest.mark.parametrize(
    "container",
    [
        "{name: s, image: r/app:1, ports: [{containerPort: 8080}]}",
        "{name: s, image: r/app:1, readinessProbe: {httpGet: {path: /health, port: 8000}}}",
        "{name: s, image: 'vllm/vllm-openai:v0.6.3'}",
        "{name: s, image: 'nvcr.io/nvidia/tritonserver:24.08-py3'}",
        "{name: s, image: r/app:1, command: [text-generation-launcher, --model-id, m]}",
        "{name: s, image: r/app:1, command: [python3, -m, sglang.launch_server]}",
        "{name: s, image: 'kserve/huggingfaceserver:v0.14.0'}",
    ],
)  # fmt: skip
def test_a_deployment_serves_by_port_probe_or_server(container: str) -> None:
    m = _deployment(container)
    assert all(serves(m, t) for t in pod_templates(m))


@pytest.mark.parametrize(
    "container",
    [
        "{name: b, image: 'r/gpu-burn:1.1', command: [./gpu_burn, -d, '3600'], "
        "resources: {limits: {nvidia.com/gpu: 1}}}",
        "{name: b, image: 'nvidia/cuda:12.4.0-base-ubuntu22.04', command: [sleep, infinity], "
        "readinessProbe: {exec: {command: [nvidia-smi]}}}",
    ],
)  # fmt: skip
def test_a_deployment_that_listens_to_nothing_does_not_serve(container: str) -> None:
    m = _deployment(container)
    assert not any(serves(m, t) for t in pod_templates(m))


def test_batch_and_training_pods_do_not_serve_through_their_rendezvous_port() -> None:
    m = _jobset("{name: c, image: r/app:1, ports: [{containerPort: 3389}], command: [torchrun]}")
    assert not any(serves(m, t) for t in pod_templates(m))
    isvc = _one("""\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: i, namespace: ml}
spec:
  predictor:
    model: {modelFormat: {name: sklearn}, storageUri: 'gs://m'}
""")
    assert all(serves(isvc, t) for t in pod_templates(isvc))


def test_storageless_models_and_trained_model_hosts() -> None:
    mms = _one("""\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: triton-mms, namespace: ml}
spec:
  predictor:
    triton: {args: [--log-verbose=1]}
""")
    stored = _one("""\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: i, namespace: ml}
spec:
  predictor:
    sklearn: {env: [{name: STORAGE_URI, value: 'gs://m'}]}
""")
    assert list(storageless_models(mms)) == [("triton", ("spec", "predictor", "triton"))]
    assert list(storageless_models(stored)) == []
    model = _one("""\
apiVersion: serving.kserve.io/v1alpha1
kind: TrainedModel
metadata: {name: cifar10, namespace: ml}
spec:
  inferenceService: triton-mms
  model: {framework: pytorch, storageUri: 'gs://m/cifar10', memory: 1Gi}
""")
    empty = _one("""\
apiVersion: serving.kserve.io/v1alpha1
kind: TrainedModel
metadata: {name: cifar10, namespace: ml}
spec:
  inferenceService: triton-mms
  model: {framework: pytorch, memory: 1Gi}
""")
    assert trained_model_host(model) == "triton-mms"
    assert trained_model_host(empty) is None


# Fixtures shaped after upstream manifests ----------------------------------------


def _marks(path: Path) -> set[tuple[int, str]]:
    out: set[tuple[int, str]] = set()
    for n, line in enumerate(path.read_text().splitlines(), 1):
        _, found, names = line.partition("# expect: ")
        if found:
            out |= {(n, name.strip()) for name in names.split(",")}
    return out


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_upstream_shaped_fixture_gives_exactly_its_marked_findings(path: Path) -> None:
    findings = {(f.where.line, f.name) for f in lint_paths([str(path)]).findings}
    assert findings == _marks(path)


def test_nvidia_only_advice_stays_on_nvidia_resources() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ml}
spec:
  containers:
    - {name: tpu, image: 'r/a:1', resources: {limits: {google.com/tpu: 0.5, memory: 1Gi}}}
    - {name: gpu, image: 'r/a:1', resources: {limits: {nvidia.com/gpu: 0.5, memory: 1Gi}}}
"""
    report = lint_manifests(manifests(read_text(text, "p.yaml")))
    messages = {f.message.split("'")[1]: f.message for f in report.findings if f.rule == "MK103"}
    assert "MIG" not in messages["tpu"] and "MIG" in messages["gpu"]
