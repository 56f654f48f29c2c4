"""Rules on NetworkPolicies that cut distributed training off from itself or from DNS.

A pod selected by any policy of a direction accepts only the traffic that some
selecting policy allows in that direction; policies add up, they never subtract.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mlkube.manifests.objects import Location, Manifest, ObjectRef
from mlkube.rules.lint.inventory import Inventory, WorkloadFacts, selects
from mlkube.rules.model import Rule, Severity, Violation

INGRESS, EGRESS = "Ingress", "Egress"
_KUBEFLOW = "training.kubeflow.org/"
_JOBSET = "jobset.sigs.k8s.io/"
_NAMESPACE_NAME = "kubernetes.io/metadata.name"
_MASTER_ROLES = frozenset({"master", "chief", "launcher"})
# Selectors on a replica index past the first few are not worth the quadratic cost.
_INDEXES = 8
_DNS_PORTS = frozenset({"53", "dns", "dns-tcp"})
_DNS_NAMESPACE = "kube-system"


@dataclass(frozen=True, slots=True)
class _Pod:
    role: str
    labels: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.role} pods" if self.role else "pods"


def network_policy_blocks_job(inv: Inventory) -> Iterator[Violation]:
    """Finds NetworkPolicies that block traffic between the pods of a distributed job.

    ## Why is this bad?
    NCCL and Gloo open connections between every pair of workers, on ports chosen at
    run time, besides the rendezvous port of the master. A default-deny policy with
    no rule letting the job's pods reach each other on all ports makes
    `init_process_group` hang until its timeout, with nothing in the pod events.
    An ingress-only allow rule is not enough when egress is denied too.

    ## Example
    ```yaml
    kind: NetworkPolicy
    metadata: {name: default-deny, namespace: ml}
    spec:
      podSelector: {}
      policyTypes: [Ingress, Egress]
    ```

    ## Use instead
    ```yaml
    kind: NetworkPolicy
    metadata: {name: allow-training-job, namespace: ml}
    spec:
      podSelector:
        matchLabels: {training.kubeflow.org/job-name: train}
      policyTypes: [Ingress, Egress]
      ingress:
        - from:
            - podSelector:
                matchLabels: {training.kubeflow.org/job-name: train}
      egress:
        - to:
            - podSelector:
                matchLabels: {training.kubeflow.org/job-name: train}
    ```
    """
    for workload, policies, pods in _distributed_jobs(inv):
        for direction in (INGRESS, EGRESS):
            blocked = (
                (pod, selecting)
                for pod, selecting in _selected(policies, pods, direction)
                if not _reaches_all(inv, selecting, direction, workload.namespace, pods)
            )
            way = "from" if direction == INGRESS else "to"
            for policy, pod in _once(blocked):
                yield Violation(
                    _rules_at(policy, direction),
                    f"{policy.ref} restricts {direction.lower()} of the {pod.where} of "
                    f"{workload.ref.kind} {workload.ref.name!r}, and no policy allows traffic "
                    f"{way} the job's own pods on all ports",
                )


def network_policy_blocks_dns(inv: Inventory) -> Iterator[Violation]:
    """Finds egress NetworkPolicies that leave a distributed job without DNS.

    ## Why is this bad?
    Workers find the master through its Service name (`MASTER_ADDR`), which needs DNS.
    When a policy restricts the pods' egress and no policy allows port 53, the name
    never resolves and every worker hangs in `init_process_group`, often without an
    error until the rendezvous timeout.

    ## Example
    ```yaml
    kind: NetworkPolicy
    metadata: {name: default-deny-egress, namespace: ml}
    spec:
      podSelector: {}
      policyTypes: [Egress]
    ```

    ## Use instead
    ```yaml
    kind: NetworkPolicy
    metadata: {name: allow-dns, namespace: ml}
    spec:
      podSelector: {}
      policyTypes: [Egress]
      egress:
        - to:
            - namespaceSelector:
                matchLabels: {kubernetes.io/metadata.name: kube-system}
              podSelector:
                matchLabels: {k8s-app: kube-dns}
          ports:
            - {protocol: UDP, port: 53}
            - {protocol: TCP, port: 53}
    ```
    """
    for workload, policies, pods in _distributed_jobs(inv):
        blocked = (
            (pod, selecting)
            for pod, selecting in _selected(policies, pods, EGRESS)
            if not any(_allows_dns(inv, rule) for p in selecting for rule in _rules(p, EGRESS))
        )
        for policy, pod in _once(blocked):
            yield Violation(
                _rules_at(policy, EGRESS),
                f"{policy.ref} restricts egress of the {pod.where} of {workload.ref.kind} "
                f"{workload.ref.name!r}, and no policy allows DNS on port 53",
            )


def _distributed_jobs(
    inv: Inventory,
) -> Iterator[tuple[WorkloadFacts, list[Manifest], list[_Pod]]]:
    for workload in inv.workloads:
        if workload.distributed:
            policies = inv.namespaced("NetworkPolicy", workload.namespace)
            if policies:
                yield workload, policies, _job_pods(workload)


def _selected(
    policies: list[Manifest], pods: list[_Pod], direction: str
) -> Iterator[tuple[_Pod, list[Manifest]]]:
    """Each pod that some policy isolates for ``direction``, with those policies."""
    for pod in pods:
        selecting = [p for p in policies if _applies(p, direction, pod.labels)]
        if selecting:
            yield pod, selecting


def _once(blocked: Iterable[tuple[_Pod, list[Manifest]]]) -> Iterator[tuple[Manifest, _Pod]]:
    """Each policy that isolates a blocked pod, once, with the first such pod."""
    seen: set[ObjectRef] = set()
    for pod, selecting in blocked:
        for policy in selecting:
            if policy.ref not in seen:
                seen.add(policy.ref)
                yield policy, pod


def _reaches_all(
    inv: Inventory, selecting: list[Manifest], direction: str, ns: str, pods: list[_Pod]
) -> bool:
    return all(any(_allows_peer(inv, p, direction, ns, other) for p in selecting) for other in pods)


def _job_pods(workload: WorkloadFacts) -> list[_Pod]:
    """The job's pods with the labels their operator adds to the template's."""
    ref = workload.ref
    out: list[_Pod] = []
    for pod in workload.pods:
        labels = dict(pod.labels)
        if ref.group == "kubeflow.org":
            labels[_KUBEFLOW + "job-name"] = ref.name
            labels[_KUBEFLOW + "replica-type"] = pod.role.lower()
            labels[_KUBEFLOW + "operator-name"] = f"{ref.kind.lower()}-controller"
            if pod.role.lower() in _MASTER_ROLES:
                labels[_KUBEFLOW + "job-role"] = "master"
            for index in range(min(max(pod.replicas, 1), _INDEXES)):
                out.append(_Pod(pod.role, labels | {_KUBEFLOW + "replica-index": str(index)}))
            continue
        if ref.group in ("jobset.x-k8s.io", "trainer.kubeflow.org"):
            labels[_JOBSET + "jobset-name"] = ref.name
            labels[_JOBSET + "replicatedjob-name"] = pod.role
        out.append(_Pod(pod.role, labels))
    return out


def _policy_types(policy: Manifest) -> set[str]:
    types = policy.get("spec", "policyTypes")
    if isinstance(types, list) and types:
        return {str(t) for t in types}
    egress = policy.get("spec", "egress")
    return {INGRESS, EGRESS} if isinstance(egress, list) and egress else {INGRESS}


def _applies(policy: Manifest, direction: str, labels: dict[str, str]) -> bool:
    selector = policy.get("spec", "podSelector")
    return direction in _policy_types(policy) and selects(
        {} if selector is None else selector, labels
    )


def _rules(policy: Manifest, direction: str) -> list[dict[str, Any]]:
    rules = policy.get("spec", direction.lower())
    if not isinstance(rules, list):
        return []
    return [r if isinstance(r, dict) else {} for r in rules]


def _rules_at(policy: Manifest, direction: str) -> Location:
    for path in (("spec", direction.lower()), ("spec", "policyTypes")):
        if policy.get(*path) is not None:
            return policy.at(*path)
    return policy.at("spec", "podSelector")


def _allows_peer(inv: Inventory, policy: Manifest, direction: str, ns: str, pod: _Pod) -> bool:
    """Whether ``policy`` allows ``direction`` traffic with ``pod`` (of its own namespace)
    on all TCP ports."""
    peers_key = "from" if direction == INGRESS else "to"
    for rule in _rules(policy, direction):
        if not _all_tcp_ports(rule.get("ports")):
            continue
        peers = rule.get(peers_key)
        if not isinstance(peers, list) or not peers:
            return True
        if any(isinstance(p, dict) and _peer_matches(inv, p, ns, pod) for p in peers):
            return True
    return False


def _peer_matches(inv: Inventory, peer: dict[str, Any], ns: str, pod: _Pod) -> bool:
    block = peer.get("ipBlock")
    if isinstance(block, dict):
        # Whether an ipBlock covers pod IPs is up to the network plugin; only a block of
        # every address, with no exceptions, surely does.
        return block.get("cidr") in ("0.0.0.0/0", "::/0") and not block.get("except")
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    if pods is None and namespaces is None:
        return False
    if namespaces is not None and not _namespace_selected(inv, namespaces, ns):
        return False
    return pods is None or selects(pods, pod.labels)


def _namespace_selected(inv: Inventory, selector: object, ns: str) -> bool:
    """Whether ``selector`` selects namespace ``ns``; when the input lacks the Namespace,
    any selector on labels other than its name is given the benefit of the doubt."""
    labels = {_NAMESPACE_NAME: ns}
    known = [m for m in inv.of_kind("Namespace") if m.ref.name == ns]
    for namespace in known:
        labels |= namespace.labels
    if selects(selector, labels):
        return True
    return not known and not _selector_keys(selector) <= {_NAMESPACE_NAME}


def _selector_keys(selector: object) -> set[str]:
    if not isinstance(selector, dict):
        return set()
    keys = set(selector.get("matchLabels") or {})
    expressions = selector.get("matchExpressions")
    for expr in expressions if isinstance(expressions, list) else []:
        if isinstance(expr, dict):
            keys.add(str(expr.get("key")))
    return keys


def _allows_dns(inv: Inventory, rule: dict[str, Any]) -> bool:
    """Whether an egress rule allows port 53 to somewhere DNS may live: kube-system, an
    address block (NodeLocal DNSCache listens on a link-local address) or anywhere."""
    if not _ports_allow_dns(rule.get("ports")):
        return False
    peers = rule.get("to")
    if not isinstance(peers, list) or not peers:
        return True
    return any(
        isinstance(peer, dict)
        and (
            isinstance(peer.get("ipBlock"), dict)
            or (
                peer.get("namespaceSelector") is not None
                and _namespace_selected(inv, peer["namespaceSelector"], _DNS_NAMESPACE)
            )
        )
        for peer in peers
    )


def _all_tcp_ports(ports: object) -> bool:
    if not isinstance(ports, list) or not ports:
        return True
    return any(
        isinstance(p, dict)
        and p.get("protocol", "TCP") == "TCP"
        and (p.get("port") is None or (_range_covers(p, 1) and _range_covers(p, 65535)))
        for p in ports
    )


def _ports_allow_dns(ports: object) -> bool:
    if not isinstance(ports, list) or not ports:
        return True
    return any(
        isinstance(p, dict)
        and p.get("protocol", "TCP") in ("UDP", "TCP")
        and (p.get("port") is None or str(p["port"]) in _DNS_PORTS or _range_covers(p, 53))
        for p in ports
    )


def _range_covers(port: dict[str, Any], number: int) -> bool:
    start, end = port.get("port"), port.get("endPort")
    if not isinstance(start, int):
        return False
    return start <= number <= (end if isinstance(end, int) else start)


OBJECT_RULES: tuple[Rule[Manifest], ...] = ()
INPUT_RULES: tuple[Rule[Inventory], ...] = (
    Rule(
        "MK701",
        Severity.ERROR,
        "Add a NetworkPolicy that allows ingress and egress between the job's pods on all ports.",
        network_policy_blocks_job,
    ),
    Rule(
        "MK702",
        Severity.ERROR,
        "Allow egress to kube-dns on UDP and TCP port 53 for the job's pods.",
        network_policy_blocks_dns,
    ),
)
