"""The spot-preemption checkpoint controller: ``mlkube controller run``.

Layers, from pure to I/O (kopf-style): ``signals`` (what a termination notice looks
like on each cloud), ``jobs`` (which job a pod belongs to, and the request record kept
on it), ``plan`` (what to do about one job, on plain data), then ``informer``,
``workqueue``, ``leader``, ``metrics`` and ``reconciler``, which talk to the API server,
and ``run``, which wires them.
"""
