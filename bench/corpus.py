"""A deterministic corpus of Kubernetes objects of mixed kinds, half with defects,
shaped like real Helm output (for the lint benchmark and the large-input test)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import yaml


def _container(rng: random.Random, defect: bool, gpu: bool) -> dict[str, Any]:
    tag = "latest" if defect and rng.random() < 0.5 else f"1.{rng.randint(0, 9)}"
    resources: dict[str, Any] = {"requests": {"cpu": "2"}, "limits": {}}
    if gpu:
        if defect:
            resources["requests"]["nvidia.com/gpu"] = 1
        else:
            resources["limits"]["nvidia.com/gpu"] = 1
            resources["requests"]["memory"] = resources["limits"]["memory"] = "32Gi"
    else:
        resources["requests"]["memory"] = "1Gi"
        resources["limits"]["memory"] = "1Gi"
    return {
        "name": "pytorch",
        "image": f"registry.example.com/team/app:{tag}",
        "ports": [{"containerPort": 8080, "name": "http"}],
        "env": [{"name": f"VAR_{i}", "value": str(i)} for i in range(4)],
        "resources": resources,
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        "volumeMounts": [] if defect else [{"name": "dshm", "mountPath": "/dev/shm"}],
    }


def _pod_spec(rng: random.Random, defect: bool, gpu: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [_container(rng, defect, gpu)]}
    if not defect:
        spec["priorityClassName"] = "ml-training-high"
        spec["volumes"] = [{"name": "dshm", "emptyDir": {"medium": "Memory"}}]
    return spec


def _meta(i: int, ns: str) -> dict[str, Any]:
    return {
        "name": f"obj-{i}",
        "namespace": ns,
        "labels": {"app.kubernetes.io/name": f"app-{i % 50}", "helm.sh/chart": "ml-0.1.0"},
    }


def _obj(api: str, kind: str, meta: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": meta, **fields}


def _job_template(template: dict[str, Any]) -> dict[str, Any]:
    return {**template, "spec": {**template["spec"], "restartPolicy": "Never"}}


def objects(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(count):
        defect = i % 2 == 0
        gpu = rng.random() < 0.6
        meta = _meta(i, f"team-{i % 10}")
        spec = _pod_spec(rng, defect, gpu)
        template = {"metadata": {"labels": {"app": f"a{i}"}}, "spec": spec}
        replicas = 1 if defect else 3
        kind = i % 8
        if kind == 0:
            yield _obj("apps/v1", "Deployment", meta,
                       spec={"replicas": replicas, "template": template})  # fmt: skip
        elif kind == 1:
            yield _obj("batch/v1", "Job", meta, spec={"template": _job_template(template)})
        elif kind == 2:
            roles = {"Master": {"replicas": 1, "template": template},
                     "Worker": {"replicas": 3, "template": template}}  # fmt: skip
            yield _obj("kubeflow.org/v1", "PyTorchJob", meta, spec={"pytorchReplicaSpecs": roles})
        elif kind == 3:
            model = {"modelFormat": {"name": "sklearn"},
                     "resources": spec["containers"][0]["resources"]}  # fmt: skip
            if not defect:
                model["storageUri"] = "s3://models/m"
            predictor = {"minReplicas": replicas, "model": model}
            yield _obj("serving.kserve.io/v1beta1", "InferenceService", meta,
                       spec={"predictor": predictor})  # fmt: skip
        elif kind == 4:
            service = {"selector": {"app": f"a{i}"}, "ports": [{"port": 80}]}
            yield _obj("v1", "Service", meta, spec=service)
        elif kind == 5:
            yield _obj("v1", "ConfigMap", meta, data={"config.yaml": "key: value\n" * 5})
        elif kind == 6:
            yield _obj("apps/v1", "StatefulSet", meta,
                       spec={"replicas": 2, "serviceName": "s", "template": template})  # fmt: skip
        else:
            job = {"spec": {"template": _job_template(template)}}
            yield _obj("batch/v1", "CronJob", meta,
                       spec={"schedule": "0 * * * *", "jobTemplate": job})  # fmt: skip


def stream(count: int, seed: int = 7) -> str:
    return yaml.safe_dump_all(objects(count, seed), sort_keys=False)
