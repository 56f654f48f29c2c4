"""The options every verb that talks to a cluster takes, as kubectl spells them."""

from __future__ import annotations

import argparse

from mlkube.cli import clientopts
from mlkube.cluster.client import Kube, open_kube
from mlkube.cluster.kubeconfig import Impersonation, Overrides


def add(
    p: argparse.ArgumentParser,
    *,
    namespace: bool = True,
    all_namespaces: bool = False,
    selector: bool = False,
) -> None:
    """The connection flags, and of ``-n``, ``-A`` and ``-l`` those the verb acts on
    (a flag the verb would ignore is not offered: argparse refuses it)."""
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context (default: its current-context)")
    p.add_argument("--cluster", help="kubeconfig cluster to use instead of the context's")
    p.add_argument("--user", help="kubeconfig user to use instead of the context's")
    if namespace:
        p.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    if all_namespaces:
        p.add_argument(
            "-A", "--all-namespaces", action="store_true", help="every namespace (-n is ignored)"
        )
    if selector:
        p.add_argument(
            "-l", "--selector", metavar="SELECTOR",
            help="only objects with these labels, as kubectl's: key=value,key!=value,key in (a,b)",
        )  # fmt: skip
    clientopts.add(p)  # --request-timeout, -v
    p.add_argument("--as", dest="as_user", metavar="USER", help="impersonate this user")
    p.add_argument(
        "--as-group", action="append", default=[], metavar="GROUP",
        help="impersonate this group (repeatable)",
    )  # fmt: skip
    p.add_argument("--as-uid", metavar="UID", help="impersonate this UID")


def overrides(args: argparse.Namespace) -> Overrides:
    """The flags, as kubectl applies them over the kubeconfig."""
    as_user, groups, uid = (
        getattr(args, "as_user", None), getattr(args, "as_group", []), getattr(args, "as_uid", None)
    )  # fmt: skip
    who = (
        Impersonation(user=as_user, uid=uid, groups=tuple(groups))
        if as_user or groups or uid
        else None
    )
    return Overrides(
        context=args.context,
        cluster=getattr(args, "cluster", None),
        user=getattr(args, "user", None),
        namespace=getattr(args, "namespace", None),
        impersonate=who,
    )


def connect(args: argparse.Namespace) -> tuple[Kube, str]:
    """A client, and the namespace to use."""
    clientopts.configure_logging(args)
    return open_kube(args.kubeconfig, overrides(args), clientopts.timeouts(args))
