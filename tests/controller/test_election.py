"""Leader election decisions with client-go's semantics
(k8s.io/client-go/tools/leaderelection/leaderelection.go): expiry is judged by the local
clock from when the record was last seen to change, never by the holder's renewTime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlkube.controller.leader import Election, Timing
from mlkube.controller.signals import format_time

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def lease(
    holder: str, renewed: datetime, transitions: int = 3, duration: int = 15
) -> dict[str, object]:
    return {"holderIdentity": holder, "leaseDurationSeconds": duration,
            "acquireTime": format_time(NOW - timedelta(hours=1)),
            "renewTime": format_time(renewed), "leaseTransitions": transitions}  # fmt: skip


def test_a_holder_whose_clock_is_an_hour_behind_still_holds_while_it_renews() -> None:
    clock = Clock()
    me = Election("me", Timing(), clock)
    skewed = NOW - timedelta(hours=1)  # their renewTime looks long expired to our clock
    for i in range(10):
        me.observe(lease("other", skewed + timedelta(seconds=2 * i)))  # it keeps renewing
        clock.now += 2
        assert me.held_by_another()


def test_a_record_that_stops_changing_expires_after_its_duration_on_our_clock() -> None:
    clock = Clock()
    me = Election("me", Timing(), clock)
    future = NOW + timedelta(hours=1)  # their clock is ahead: renewTime looks fresh forever
    me.observe(lease("other", future))
    clock.now += 14.9
    me.observe(lease("other", future))  # unchanged: not a renewal
    assert me.held_by_another()
    clock.now += 0.2  # 15.1 s since it last changed
    me.observe(lease("other", future))
    assert not me.held_by_another()


def test_the_records_own_duration_decides_its_expiry() -> None:
    clock = Clock()
    me = Election("me", Timing(), clock)
    me.observe(lease("other", NOW, duration=60))
    clock.now += 30
    assert me.held_by_another()  # our own lease would be 15 s; theirs says 60


def test_taking_over_counts_a_transition_and_renewing_keeps_the_acquire_time() -> None:
    clock = Clock()
    me = Election("me", Timing(), clock)
    me.observe(lease("other", NOW))
    clock.now += 16
    taken = me.desired(NOW + timedelta(seconds=16))
    assert taken["holderIdentity"] == "me" and taken["leaseTransitions"] == 4
    assert taken["acquireTime"] == taken["renewTime"]
    me.wrote(taken)
    renewed = me.desired(NOW + timedelta(seconds=18))
    assert renewed["leaseTransitions"] == 4
    assert renewed["acquireTime"] == taken["acquireTime"]
    assert renewed["renewTime"] != taken["renewTime"]


def test_a_new_lease_starts_at_zero_transitions() -> None:
    spec = Election("me", Timing(), Clock()).desired(NOW)
    assert spec["leaseTransitions"] == 0 and spec["leaseDurationSeconds"] == 15


def test_a_released_lease_is_free_at_once() -> None:
    clock = Clock()
    leader = Election("a", Timing(), clock)
    leader.wrote(leader.desired(NOW))
    released = leader.released(NOW)
    assert released["holderIdentity"] == "" and released["leaseDurationSeconds"] == 1
    standby = Election("b", Timing(), clock)
    standby.observe(released)
    assert not standby.held_by_another()


def test_our_own_lease_is_never_held_against_us() -> None:
    me = Election("me", Timing(), Clock())
    me.observe(lease("me", NOW))
    assert me.is_leader() and not me.held_by_another()


@pytest.mark.parametrize(
    ("lease_s", "renew", "retry"),
    [(10, 10, 2), (15, 2.4, 2), (15, 10, 0)],  # renew == lease; renew <= 1.2 x retry; 0
)
def test_timings_client_go_refuses_are_refused(lease_s: float, renew: float, retry: float) -> None:
    with pytest.raises(ValueError, match="lease > renew deadline"):
        Timing(lease_s, renew, retry)


def test_client_gos_core_defaults_are_accepted() -> None:
    assert Timing() == Timing(15, 10, 2)
