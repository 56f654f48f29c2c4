"""The examples under each verb's ``--help``, as kubectl shows them: kept here, in one
table, so that a test can parse every one of them with the real parser (an example
that no longer parses fails the build, not the reader)."""

from __future__ import annotations

import argparse

Verb = tuple[str, ...]

EXAMPLES: dict[Verb, list[tuple[str, str]]] = {
    ("render",): [
        ("one YAML stream on standard output", "mlkube render examples/"),
        ("a kustomize-ready directory", "mlkube render -f examples/ --output-dir out/bundle"),
        ("as one JSON List", "mlkube render examples/platform.yaml -o json"),
    ],
    ("lint",): [
        ("files and directories", "mlkube lint deploy/ job.yaml"),
        ("a chart's output, as SARIF", "helm template my-chart | mlkube lint -f - -o sarif"),
        ("fail only on errors", "mlkube lint -f deploy/ --fail-on error -o json"),
    ],
    ("rules",): [
        ("every rule, its id, name and severity", "mlkube rules"),
        ("for a script", "mlkube rules -o json"),
    ],
    ("explain",): [
        ("by name", "mlkube explain gpu-limit-missing"),
        ("by id", "mlkube explain MK101"),
    ],
    ("cluster", "up"): [
        ("a local cluster shaped like a Platform", "mlkube cluster up --platform platform.yaml"),
        ("then point kubectl and mlkube at it", 'eval "$(mlkube cluster up)"'),
        (
            "with KServe's controller, so endpoints become Ready",
            "mlkube cluster up --platform platform.yaml --serving",
        ),
        (
            "with Prometheus and prometheus-adapter, for HPAs on GPU utilisation",
            "mlkube cluster up --platform platform.yaml --gpu-metrics",
        ),
        (
            "with metrics-server, for HPAs on CPU (KServe's scaleMetric: cpu)",
            "mlkube cluster up --platform platform.yaml --serving --cpu-metrics",
        ),
    ],
    ("cluster", "down"): [("stop it and remove its files", "mlkube cluster down --name mlkube")],
    ("cluster", "status"): [("as JSON", "mlkube cluster status -o json")],
    ("apply",): [
        ("specs and manifests, with server-side apply", "mlkube apply -f examples/"),
        ("validated by the server, nothing persisted", "mlkube apply -f job.yaml --dry-run=server"),
        ("only the objects with a label", "mlkube apply -f out/bundle -l team=vision"),
    ],
    ("status",): [
        ("one job", "mlkube status resnet-training -n ml-training"),
        ("every job with a label, everywhere", "mlkube status -A -l team=vision -o yaml"),
    ],
    ("wait",): [
        (
            "until it has succeeded",
            "mlkube wait resnet-training -n ml-training --for=Succeeded --timeout=1h",
        ),
    ],
    ("doctor",): [
        ("one job", "mlkube doctor resnet-training -n ml-training"),
        ("every namespace, as JSON", "mlkube doctor -A -o json"),
        ("save the evidence, diagnose it elsewhere", "mlkube doctor -A --save evidence.json"),
        ("", "mlkube doctor --from evidence.json"),
    ],
    ("preflight",): [
        ("the cluster, and the pools of a Platform", "mlkube preflight --platform platform.yaml"),
        ("the RBAC a deployer needs", "mlkube preflight -n ml --print-rbac Group:ml-deployers"),
    ],
    ("controller", "run"): [
        ("outside the cluster, one replica", "mlkube controller run --no-leader-elect"),
    ],
    ("controller", "manifests"): [
        (
            "the deployment bundle, for your registry",
            "mlkube controller manifests --image registry.example/mlkube:0.1.0",
        ),
        ("as one JSON List", "mlkube controller manifests -o json"),
    ],
    ("plan",): [
        (
            "a trace on a Platform, and a what-if",
            "mlkube plan --platform platform.yaml --trace trace.csv --what-if bigger.yaml",
        ),
    ],
    ("completion",): [
        ("bash", 'eval "$(mlkube completion bash)"'),
        ("zsh, after compinit", 'eval "$(mlkube completion zsh)"'),
        ("fish", "mlkube completion fish > ~/.config/fish/completions/mlkube.fish"),
    ],
}


def epilog(verb: Verb) -> str:
    """The verb's examples; a verb with actions (``cluster``) shows all of theirs."""
    lines = ["examples:"]
    mine = [e for v, examples in EXAMPLES.items() if v[: len(verb)] == verb for e in examples]
    for what, command in mine:
        if what:
            lines.append(f"  # {what}")
        lines.append(f"  {command}")
    return "\n".join(lines)


class Formatter(argparse.HelpFormatter):
    """argparse's, but examples are shown as written (descriptions are still wrapped)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def add_argument(self, action: argparse.Action) -> None:
        """Count the verbs at the depth they are shown (argparse counts them one indent
        short, so a long verb's help wraps to a line of its own)."""
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            longest = max((len(name) for name in action.choices), default=0)
            self._action_max_length = max(
                self._action_max_length, self._current_indent + 2 * self._indent_increment + longest
            )


def attach(parser: argparse.ArgumentParser, path: Verb = ()) -> None:
    """Put each verb's examples under its help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                attach(sub, (*path, name))
    parser.formatter_class = Formatter
    if path and any(v[: len(path)] == path for v in EXAMPLES):
        parser.epilog = epilog(path)
