"""The state machine of §4.4 on a fake clock."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piranha.health.machine import (
    Admit,
    FailoverWatch,
    HealthState,
    QueryLoad,
    SetWeight,
    Withdraw,
    checks_per_adjustment,
    initial_weight,
)


def machine(**kw) -> HealthState:
    settings_ = {"weight": 100, "reentry": 30.0, "quiesce": False, "interval": 10.0}
    settings_.update(kw)
    return HealthState(**settings_)


def test_initial_weight_is_a_32nd_at_least_one():
    assert [initial_weight(w) for w in (0, 1, 31, 32, 100, 1000)] == [0, 1, 1, 1, 3, 31]


def test_first_success_after_start_admits_at_once():
    m = machine()
    assert m.state == "unknown"
    assert m.observe(True, 0.0) == [Admit(3)]
    assert m.state == "up" and m.active and m.weight == 3


def test_one_failure_withdraws_by_removal_or_quiesce():
    m = machine()
    m.observe(True, 0.0)
    assert m.observe(False, 10.0, "CONNECT to 10.0.0.2:80 timed out") == [Withdraw(False)]
    assert m.state == "down" and not m.active and m.weight == 0
    assert m.last_error == "CONNECT to 10.0.0.2:80 timed out"
    q = machine(quiesce=True)
    q.observe(True, 0.0)
    assert q.observe(False, 10.0) == [Withdraw(True)]


def test_first_check_failing_means_down_and_the_reentry_wait_applies():
    m = machine()
    assert m.observe(False, 0.0) == []
    assert m.state == "down"
    assert m.observe(True, 10.0) == []
    assert m.observe(True, 20.0) == []
    assert m.observe(True, 30.0) == [Admit(3)]


def test_readmission_never_earlier_than_reentry_after_the_last_failure():
    m = machine(reentry=25.0)
    m.observe(True, 0.0)
    m.observe(False, 10.0)
    assert m.readmit_at() == 35.0
    assert m.observe(True, 20.0) == []
    assert m.observe(True, 30.0) == []
    assert m.observe(True, 40.0) == [Admit(3)]  # 30 s after the failure, >= 25


def test_a_failure_during_the_wait_starts_it_again():
    m = machine(reentry=20.0)
    m.observe(False, 0.0)
    m.observe(True, 10.0)
    m.observe(False, 15.0)
    assert m.observe(True, 30.0) == []
    assert m.observe(True, 35.0) == [Admit(3)]


def test_reentry_shorter_than_the_interval_readmits_at_the_next_success():
    m = machine(reentry=1.0)
    m.observe(True, 0.0)
    m.observe(False, 10.0)
    assert m.observe(True, 20.0) == [Admit(3)]


def test_slow_start_doubles_about_every_20_seconds():
    m = machine(weight=100, interval=10.0)
    assert checks_per_adjustment(10.0) == 2
    weights, t = [], 0.0
    assert m.observe(True, t) == [Admit(3)]
    for _ in range(20):
        t += 10.0
        for d in m.observe(True, t):
            assert isinstance(d, SetWeight) and d.reason == "slow start"
            weights.append(d.weight)
    assert weights == [6, 12, 24, 48, 96, 100]


def test_adjustment_cadence_of_the_original():
    assert checks_per_adjustment(2.0) == 10
    assert checks_per_adjustment(7.0) == 2
    assert checks_per_adjustment(20.0) == 1
    assert checks_per_adjustment(30.0) == 1


def test_weight_zero_stays_zero():
    m = machine(weight=0)
    assert m.observe(True, 0.0) == [Admit(0)]
    for t in range(1, 10):
        assert m.observe(True, t * 10.0) == []


def test_load_monitoring_starts_after_the_ramp():
    m = machine(weight=1, interval=20.0, load_monitoring=True)
    assert m.observe(True, 0.0) == [Admit(1)]
    assert m.observe(True, 20.0) == [QueryLoad()]
    # 1 + (1/2)·∛1 = 1.5 truncates to 1: as in the original, a weight of 1 cannot grow.
    assert m.load_measured(0.0) == []
    m2 = machine(weight=100, interval=20.0, load_monitoring=True)
    m2.observe(True, 0.0)
    m2.weight = 100  # ramp done
    assert m2.observe(True, 20.0) == [QueryLoad()]
    assert m2.load_measured(0.0) == [SetWeight(150, "load")]
    assert m2.load_measured(None) == []
    assert m2.load_measured(1.0) == []


def test_load_readings_are_ignored_when_out_of_service():
    m = machine(load_monitoring=True)
    assert m.load_measured(0.0) == []


def test_force_down_removes_and_holds_until_resume():
    m = machine(quiesce=True)
    m.observe(True, 0.0)
    assert m.force("down", 5.0) == [Withdraw(False, forced=True)]  # removal, as SIGUSR1
    assert m.state == "down" and m.forced == "down"
    assert m.observe(True, 10.0) == []  # checks recorded, not acted on
    assert m.checks == 2
    assert m.force("resume", 12.0) == []
    assert m.observe(True, 20.0) == [Admit(3)]  # the next success admits at once


def test_force_up_admits_at_the_configured_weight_despite_failures():
    m = machine()
    m.observe(False, 0.0)
    assert m.force("up", 1.0) == [Admit(100, forced=True)]
    assert m.observe(False, 10.0) == []
    assert m.active and m.state == "up" and m.failures == 2
    assert m.force("resume", 11.0) == []
    assert m.observe(False, 20.0) == [Withdraw(False)]


def test_force_up_of_a_ramping_server_sets_the_full_weight():
    m = machine()
    m.observe(True, 0.0)
    assert m.force("up", 1.0) == [SetWeight(100, "reconfigure")]


def test_unknown_force_mode():
    with pytest.raises(ValueError, match="down, up, resume"):
        machine().force("sideways", 0.0)


def test_failed_actions_are_retried_at_the_next_check():
    m = machine()
    [admit] = m.observe(True, 0.0)
    m.action_failed(admit)
    assert m.observe(True, 10.0) == [Admit(3)]
    assert m.observe(True, 20.0) == [SetWeight(6, "slow start")]
    m.action_failed(SetWeight(6, "slow start"))
    assert m.observe(False, 30.0) == [Withdraw(False)]  # superseded
    m.action_failed(Withdraw(False))
    assert m.observe(False, 40.0) == [Withdraw(False)]
    assert m.observe(False, 50.0) == []


def test_reconfigure_keeps_the_state_and_moves_the_weight():
    m = machine()
    m.observe(True, 0.0)
    m.weight = 100  # ramp finished
    kw = {"reentry": 30.0, "quiesce": True, "interval": 10.0, "scale": 10, "load_monitoring": False}
    assert m.reconfigure(weight=50, **kw) == [SetWeight(50, "reconfigure")]
    assert m.active and m.quiesce
    ramping = machine()
    ramping.observe(True, 0.0)  # weight 3, ramping to 100
    assert ramping.reconfigure(weight=200, **kw) == []
    assert ramping.reconfigure(weight=2, **kw) == [SetWeight(2, "reconfigure")]
    down = machine()
    down.observe(False, 0.0)
    assert down.reconfigure(weight=7, **kw) == [] and down.configured == 7


def test_failover_watch():
    w = FailoverWatch()
    assert w.observe(False) is None
    assert w.observe(False) == "never"
    w = FailoverWatch()
    assert w.observe(True) == "available"
    assert w.observe(True) is None
    assert w.observe(False) == "lost"
    w = FailoverWatch()
    assert w.observe(False) is None
    assert w.observe(True) == "available"  # a failure before availability is forgiven


@settings(max_examples=200)
@given(
    steps=st.lists(st.tuples(st.booleans(), st.floats(min_value=0.1, max_value=40.0)), max_size=60),
    reentry=st.floats(min_value=0.0, max_value=120.0),
    weight=st.integers(min_value=0, max_value=1000),
    quiesce=st.booleans(),
)
def test_invariants(steps, reentry, weight, quiesce):
    m = machine(weight=weight, reentry=reentry, quiesce=quiesce, load_monitoring=True)
    now, last_failure, in_service = 0.0, None, False
    for ok, dt in steps:
        now += dt
        for d in m.observe(ok, now):
            if isinstance(d, Admit):
                assert not in_service
                assert last_failure is None or now - last_failure >= reentry
                in_service = True
            elif isinstance(d, Withdraw):
                assert in_service and not ok and d.quiesce == quiesce
                in_service = False
            elif isinstance(d, QueryLoad):
                m.load_measured(0.0)
        if not ok:
            last_failure = now
        assert in_service == m.active == (m.state == "up")
        assert 0 <= m.weight <= 10 * weight
        assert (m.weight == 0) or in_service
