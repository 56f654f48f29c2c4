"""The options every verb that talks to a cluster takes, as kubectl spells them."""

from __future__ import annotations

import argparse

from mlkube.cli import clientopts
from mlkube.cluster.client import Kube
from mlkube.cluster.kubeconfig import load_connection


def add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context (default: its current-context)")
    p.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    clientopts.add(p)  # --request-timeout, -v


def connect(args: argparse.Namespace) -> tuple[Kube, str]:
    """A client, and the namespace to use."""
    clientopts.configure_logging(args)
    connection = load_connection(args.kubeconfig, args.context)
    return Kube(connection, clientopts.timeouts(args)), args.namespace or connection.namespace
