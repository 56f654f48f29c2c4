"""``mlkube plan``: what a Platform would do with a workload, before the hardware is
bought: a discrete-event simulation of Kueue's admission and the scheduler's placement
on the rendered objects, with spot reclaims, lost work and cost."""
