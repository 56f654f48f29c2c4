"""Which reconcile failures are worth retrying soon.

Temporary (retried per key with exponential backoff, `mlkube.controller.ratelimit`):
no answer, 409 Conflict, 429 Too Many Requests, 5xx, 401 (a rotated token is read
again), and anything unexpected. Permanent (refused): the API server understood the
request and will answer the same way until a person changes something: 400 Bad
Request, 403 Forbidden (RBAC), 405, 422 Invalid. Retrying those at once is a hot loop;
they are reported once, as an Event and a log line naming the object, and tried again
after a long pause (a fixed RBAC is picked up then).
"""

from __future__ import annotations

from mlkube.cluster.client import ApiError

REFUSED_STATUSES = frozenset({400, 403, 405, 422})


class InvariantBroken(RuntimeError):
    """A bug in the controller: a state it promises never to reach. Raised, not
    asserted, so it is reported (and the key backed off) even under ``python -O``."""


def refused(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.status in REFUSED_STATUSES


def what_to_do(exc: ApiError) -> str:
    if exc.status == 403:
        return (
            "grant the controller the verb named above (the ClusterRole in "
            "`mlkube controller manifests` has every one it needs)"
        )
    return "the object or the controller's request is invalid; please report it"
