"""The Python API: what each verb of the CLI does, as a function that returns data
instead of printing it. ``import mlkube`` and call ``mlkube.lint(...)``; the names
here are re-exported there (see `mlkube.__all__`), loaded on first use.

Each function imports what it needs when called: asking for ``mlkube.lint`` does not
load the cluster client, and asking for ``mlkube.doctor`` does not load the linter.
Errors are the CLI's: `mlkube.InputError` (a bad file, with its line), `UsageError`,
and ``ClusterError``/``Unreachable`` from a cluster; the exit code each maps to is
``exc.exit_code``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlkube.lint import Report
from mlkube.manifests.inputs import Scope

if TYPE_CHECKING:
    from mlkube.cluster.client import Kube
    from mlkube.plan.types import PlanResult
    from mlkube.render import Bundle
    from mlkube.spec import SpecFile

Path = str | os.PathLike[str]


@dataclass
class PreflightReport(Report):
    """Preflight's findings, and each check's outcome: ``{"PF101": "pass", ...}``
    (``pass``, ``warn`` or ``fail``). ``objects`` counts the checks."""

    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return "fail" in self.outcomes.values()


def _paths(paths: Sequence[Path]) -> list[str]:
    return [os.fspath(p) for p in paths]


def load_specs(*paths: Path) -> list[SpecFile]:
    """The mlkube specs (Platform, TrainingJob, InferenceEndpoint) in files and
    directories (``"-"``: standard input), validated; any other document is refused."""
    from mlkube.spec.load import load_paths  # noqa: PLC0415 - pydantic, on first use

    return load_paths(_paths(paths))


def render(*paths: Path) -> Bundle:
    """The Kubernetes objects the specs in ``paths`` render to, in apply order."""
    from mlkube.render import render_paths  # noqa: PLC0415

    return render_paths(_paths(paths))


def lint(
    *paths: Path,
    config: Path | None = None,
    disable: Sequence[str] = (),
    scope: Scope = "file",
    kustomize: Sequence[Path] = (),
) -> Report:
    """Lint the manifests in ``paths`` and what ``kustomize build`` makes of each of
    ``kustomize``. ``config``: a ``.mlkube.yaml`` (default: the one in the working
    directory, if any); ``disable``: rule ids or names to skip; ``scope``: which objects
    cross-object rules see together (``file``, ``dir`` or ``all``)."""
    from mlkube.config import load_config, unknown_rules  # noqa: PLC0415
    from mlkube.errors import UsageError  # noqa: PLC0415
    from mlkube.lint import lint_paths  # noqa: PLC0415

    if unknown := unknown_rules(disable):
        raise UsageError(f"disable {unknown[0]!r}: no lint rule by that id or name")
    selection = load_config(os.fspath(config) if config is not None else None).lint.selection()
    if disable:
        selection = type(selection)(selection.disabled | set(disable), selection.severities)
    return lint_paths(_paths(paths), selection, scope=scope, kustomizations=_paths(kustomize))


def connect(
    kubeconfig: Path | None = None,
    *,
    context: str | None = None,
    namespace: str | None = None,
    request_timeout: float = 30.0,
) -> tuple[Kube, str]:
    """A client for the cluster a kubeconfig names (as kubectl chooses it: the file,
    else ``$KUBECONFIG``, else ``~/.kube/config``, or in a pod its service account),
    and the namespace to use. Close the client, or use it as a context manager."""
    from mlkube.cluster.client import Timeouts, open_kube  # noqa: PLC0415 - httpx, on first use
    from mlkube.cluster.kubeconfig import Overrides  # noqa: PLC0415

    path = os.fspath(kubeconfig) if kubeconfig is not None else None
    overrides = Overrides(context=context, namespace=namespace)
    return open_kube(path, overrides, Timeouts(request_timeout))


def doctor(
    name: str | None = None,
    *,
    snapshot: Path | None = None,
    kubeconfig: Path | None = None,
    context: str | None = None,
    namespace: str | None = None,
    all_namespaces: bool = False,
) -> Report:
    """Why a job or endpoint (``name``; default: every one) is pending, killed or hung:
    from a live cluster, or from a ``snapshot`` saved by ``mlkube doctor --save``."""
    from mlkube.cluster.evidence import gather, require  # noqa: PLC0415
    from mlkube.doctor import diagnose, examined, require_workload  # noqa: PLC0415
    from mlkube.snapshots.evidence import Evidence  # noqa: PLC0415

    source = os.fspath(snapshot) if snapshot is not None else None
    if source is not None:
        evidence = Evidence.load(source)
    else:
        kube, current = connect(kubeconfig, context=context, namespace=namespace)
        with kube:
            evidence = gather(kube, None if all_namespaces else current)
        require(evidence)
    if name is not None:
        require_workload(evidence, name, source)
    return Report(diagnose(evidence, name), examined(evidence, name))


def preflight(
    *,
    platform: Path | None = None,
    kubeconfig: Path | None = None,
    context: str | None = None,
    namespace: str | None = None,
) -> PreflightReport:
    """Is the cluster ready for ML workloads (and, given a Platform spec file, for its
    pools)? ``namespace``: where the deployer's access is checked."""
    from mlkube.cluster.facts import gather_facts  # noqa: PLC0415
    from mlkube.preflight import judge, outcomes  # noqa: PLC0415
    from mlkube.rules.preflight import Subject  # noqa: PLC0415
    from mlkube.spec import Platform, load_platform  # noqa: PLC0415

    spec = load_platform(os.fspath(platform)).spec if platform is not None else None
    assert spec is None or isinstance(spec, Platform)
    kube, current = connect(kubeconfig, context=context, namespace=namespace)
    with kube:
        subject = Subject(gather_facts(kube, current), spec)
    findings = judge(subject)
    checks = outcomes(subject, findings)
    return PreflightReport(findings, len(checks), outcomes=checks)


def plan(
    platform: Path,
    trace: Path,
    *,
    what_if: Sequence[Path] = (),
    trace_format: str = "auto",
    prices: Path | None = None,
    spot_reclaim_rate: float | None = None,
    seed: int = 0,
) -> list[PlanResult]:
    """Simulate the ``trace`` of jobs on the queues and nodes of ``platform`` (then of
    each ``what_if`` Platform, on the same trace): one result per Platform.
    ``spot_reclaim_rate`` (per node-hour) overrides each spot pool's ``reclaimRate``,
    as ``--spot-reclaim-rate`` does; None keeps the pools' own."""
    from mlkube.errors import UsageError  # noqa: PLC0415
    from mlkube.plan.run import plan_files  # noqa: PLC0415

    if spot_reclaim_rate is not None and (
        not spot_reclaim_rate >= 0 or spot_reclaim_rate == float("inf")
    ):
        raise UsageError("spot_reclaim_rate: expected a finite number >= 0")
    return plan_files(
        _paths([platform, *what_if]),
        os.fspath(trace),
        trace_format=trace_format,
        prices=os.fspath(prices) if prices is not None else None,
        reclaim_rate=spot_reclaim_rate,
        seed=seed,
    )
