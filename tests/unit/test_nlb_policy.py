"""The load balancer's two health-check designs (dnsrace_ec2.nlb_policy) and Network Manager's books
(dnsrace_ec2.netmgr_book), pure: velocity control, fail-open, AZ failover, bounded checking, admission."""

from __future__ import annotations

from dnsrace_ec2.netmgr_book import LEGACY as NETMGR_LEGACY
from dnsrace_ec2.netmgr_book import SAFE as NETMGR_SAFE
from dnsrace_ec2.netmgr_book import Fleet, admits_launch
from dnsrace_ec2.nlb_policy import (LEGACY, SAFE, VELOCITY_WINDOW_S, Target, TargetHealth, checks_due, deadline_of,
                                    decide, fail_open, failed_over_azs, floor_of, observe, removal_allowance)

TARGETS = [Target(f"s{k + 1:02d}", "abc"[k % 3]) for k in range(12)]   # 4 per AZ
ALL = {t.name for t in TARGETS}


def health(unhealthy: set[str]) -> dict[str, TargetHealth]:
    return {t.name: TargetHealth(healthy=t.name not in unhealthy, fails=2 if t.name in unhealthy else 0,
                                 last_passed=t.name not in unhealthy) for t in TARGETS}


# --- one target's health ------------------------------------------------------------------------------

def test_two_failures_in_a_row_make_a_target_unhealthy_and_two_passes_healthy_again() -> None:
    h = observe(TargetHealth(), passed=False)
    assert h.healthy and not h.last_passed
    h = observe(h, passed=False)
    assert not h.healthy
    h = observe(observe(h, passed=True), passed=False)      # a pass between does not restore it
    assert not h.healthy
    h = observe(observe(h, passed=True), passed=True)
    assert h.healthy


# --- velocity control -----------------------------------------------------------------------------------

def test_the_velocity_cap_is_a_quarter_of_the_targets_per_window_and_legacy_has_none() -> None:
    assert removal_allowance(SAFE, 12, 12, [], now=100.0) == 3
    assert removal_allowance(SAFE, 12, 12, [95.0, 96.0], now=100.0) == 1
    assert removal_allowance(SAFE, 12, 12, [95.0, 96.0, 97.0, 98.0], now=100.0) == 0
    assert removal_allowance(SAFE, 12, 12, [100.0 - VELOCITY_WINDOW_S - 0.1] * 3, now=100.0) == 3   # out of the window
    assert removal_allowance(SAFE, 3, 3, [], now=0.0) == 1          # never below one
    assert removal_allowance(LEGACY, 12, 12, [99.0] * 50, now=100.0) is None


def test_safe_never_removes_below_its_floor_of_half_the_targets() -> None:
    assert floor_of(SAFE, 12) == 6 and floor_of(LEGACY, 12) == 0
    assert removal_allowance(SAFE, 12, 7, [], now=0.0) == 1
    assert removal_allowance(SAFE, 12, 6, [], now=0.0) == 0
    sick = {"s01", "s02", "s03"}
    d = decide(SAFE, TARGETS, health(sick), in_service={"s01", "s02", "s03", "s04", "s05", "s06", "s07"},
               removed_at=[], now=0.0)
    assert d.remove == ("s01",) and d.held_back == ("s02", "s03")


def test_safe_removes_at_most_the_cap_and_says_what_it_held_back() -> None:
    sick = {"s01", "s04", "s02", "s05"}         # half of AZs a and b
    d = decide(SAFE, TARGETS, health(sick), set(ALL), removed_at=[], now=0.0)
    assert d.failed_azs == ()                   # safe judges each target on its own: no whole-AZ failover
    assert d.remove == ("s01", "s02", "s04") and d.held_back == ("s05",)
    later = decide(SAFE, TARGETS, health(sick), ALL - set(d.remove), removed_at=[0.0] * 3, now=1.0)
    assert later.remove == () and later.held_back == ("s05",)
    after = decide(SAFE, TARGETS, health(sick), ALL - set(d.remove), removed_at=[0.0] * 3, now=VELOCITY_WINDOW_S)
    assert after.remove == ("s05",)


def test_legacy_fails_over_a_whole_az_at_once_healthy_targets_with_it() -> None:
    d = decide(LEGACY, TARGETS, health({"s01", "s04"}), set(ALL), removed_at=[], now=0.0)
    assert d.failed_azs == ("a",)
    assert set(d.remove) == {"s01", "s04", "s07", "s10"} and d.held_back == ()


# --- fail-open ------------------------------------------------------------------------------------------

def test_safe_fails_open_when_more_than_half_look_unhealthy() -> None:
    assert not fail_open(SAFE, 6, 12) and fail_open(SAFE, 7, 12)
    assert not fail_open(LEGACY, 12, 12)
    sick = {t.name for t in TARGETS[:7]}
    d = decide(SAFE, TARGETS, health(sick), in_service={"s08"}, removed_at=[], now=0.0)
    assert d.fail_open and d.remove == () and set(d.restore) == ALL - {"s08"}


def test_legacy_takes_everything_out_when_everything_fails() -> None:
    d = decide(LEGACY, TARGETS, health(set(ALL)), set(ALL), removed_at=[], now=0.0)
    assert set(d.remove) == ALL and not d.fail_open


def test_safe_never_goes_below_half_in_service_whatever_the_checks_say() -> None:
    """Sixty intervals of checks failing at random: in service never drops below the floor (1 - 0.5)."""
    import random
    rng = random.Random(24)
    in_service, removed_at = set(ALL), []
    for second in range(60):
        sick = {t.name for t in TARGETS if rng.random() < 0.7}
        d = decide(SAFE, TARGETS, health(sick), in_service, removed_at, float(second))
        in_service = (in_service - set(d.remove)) | set(d.restore)
        removed_at += [float(second)] * len(d.remove)
        assert len(in_service) >= 6, (second, sorted(in_service))


def test_recovered_targets_come_back_and_healthy_azs_stay() -> None:
    assert failed_over_azs(LEGACY, TARGETS, health({"s01"})) == []
    assert failed_over_azs(SAFE, TARGETS, health({"s01", "s04", "s07"})) == []
    d = decide(LEGACY, TARGETS, health(set()), in_service=ALL - {"s01", "s02"}, removed_at=[], now=0.0)
    assert d.restore == ("s01", "s02") and d.remove == ()


# --- bounded checking ------------------------------------------------------------------------------------

def test_legacy_rechecks_failing_targets_between_intervals_and_safe_never_doubles_a_check() -> None:
    h = health(set())
    h["s03"] = TargetHealth(healthy=True, fails=1, last_passed=False)
    assert checks_due(LEGACY, h, in_flight=["s03"], interval_due=False) == ["s03"]
    assert checks_due(SAFE, h, in_flight=[], interval_due=False) == []
    assert checks_due(SAFE, h, in_flight=["s03"], interval_due=True) == sorted(ALL - {"s03"})
    assert checks_due(LEGACY, h, in_flight=["s03"], interval_due=True) == sorted(ALL)


def test_legacy_counts_a_checks_queueing_against_its_deadline_and_safe_does_not() -> None:
    assert deadline_of(LEGACY, scheduled=10.0, started=10.8, timeout_s=1.0) == 11.0
    assert deadline_of(SAFE, scheduled=10.0, started=10.8, timeout_s=1.0) == 11.8


# --- Network Manager ----------------------------------------------------------------------------------

def test_netmgr_safe_tells_launches_to_wait_while_the_queue_is_full() -> None:
    assert admits_launch(NETMGR_LEGACY, 10_000, 20)
    assert admits_launch(NETMGR_SAFE, 19, 20) and not admits_launch(NETMGR_SAFE, 20, 20)


def test_a_launch_takes_the_most_overdue_slot_without_networking_until_its_turn_in_the_queue() -> None:
    fleet = Fleet.start(slots=3, azs=("a", "b", "c"), lifetime_s=30.0, now=0.0)
    assert [s.due for s in fleet.slots] == [10.0, 20.0, 30.0] and all(s.networked for s in fleet.slots)
    assert fleet.launch(now=5.0) == ("i-000001", None)          # no slot due: another customer's
    fleet.enqueue_droplets([7, 8], now=6.0)
    instance, slot = fleet.launch(now=25.0)
    assert slot is not None and slot.target == "s01" and not slot.networked and slot.due == 55.0
    worked = [fleet.work_one(now=26.0) for _ in range(3)]
    assert [item.name for item, _ in worked] == ["i-000001", "droplet-000007", "droplet-000008"]
    assert not slot.networked and fleet.head_age(now=26.0) == 1.0
    item, networked = fleet.work_one(now=27.0)
    assert item.name == instance and networked is slot and slot.networked and slot.networked_at == 27.0
    assert fleet.work_one(now=28.0) is None


def test_a_replacement_takes_its_slot_at_once_and_an_unknown_slot_is_refused() -> None:
    import pytest
    fleet = Fleet.start(slots=3, azs=("a", "b", "c"), lifetime_s=30.0, now=0.0)
    instance, slot = fleet.replace("s02", now=1.0)
    assert (instance, slot.target, slot.networked, slot.due) == ("i-000001", "s02", False, 31.0)
    with pytest.raises(KeyError):
        fleet.replace("s09", now=1.0)


def test_safe_makes_before_it_breaks_a_launch_serves_only_once_networked() -> None:
    fleet = Fleet.start(slots=3, azs=("a", "b", "c"), lifetime_s=30.0, now=0.0, make_before_break=True)
    fleet.enqueue_droplets([1, 2], now=10.0)
    instance, slot = fleet.launch(now=11.0)
    assert slot is not None and slot.instance == "i-boot01" and slot.networked and slot.pending == instance
    assert fleet.launch(now=11.5) == ("i-000002", None)       # s01 is taken by the pending one, nothing else due
    fleet.work_one(now=12.0)
    fleet.work_one(now=12.5)
    assert slot.instance == "i-boot01"                         # the old one still serves
    item, swapped = fleet.work_one(now=13.0)
    assert item.name == instance and swapped is slot
    assert (slot.instance, slot.pending, slot.networked, slot.networked_at) == (instance, None, True, 13.0)
