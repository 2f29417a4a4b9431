"""pulse's state machine, transition by transition (piranha-behaviour.md §2.3 and our changes)."""

import pytest

from piranha.ha.state import (
    ACTIVATING,
    ACTIVE,
    BACKUP,
    INACTIVE,
    P_DEAD,
    P_RUNNING,
    P_STOPPED,
    PRIMARY,
    Activate,
    CheckConnectivity,
    Deactivate,
    Exit,
    HandOver,
    Log,
    PulseState,
    Reassert,
    Send,
    StartMonitors,
    Timing,
)
from piranha.ha.wire import Magic

RUN, STOP = Magic.LVS_RUNNING, Magic.LVS_STOPPED
FAST = Timing(keepalive=0.1, deadtime=0.3, failback=True, failback_delay=1.0)


def logs(actions):
    return [a.message for a in actions if isinstance(a, Log)]


def kinds(actions):
    return [type(a) for a in actions]


def make(role=PRIMARY, **kw):
    kw.setdefault("timing", FAST)
    sm = PulseState(role=role, **kw)
    sm.start(0.0)
    return sm


def activate(sm, now=0.0, ok=True):
    """Finish whatever activation is pending."""
    return sm.activation_finished(sm.generation, ok, now)


def bring_active(sm, now=0.0):
    """Make `sm` active through the path appropriate to its role."""
    if sm.role == PRIMARY:
        out = sm.heartbeat(STOP, now)
    else:
        out = sm.poll(now + sm.timing.deadtime)
    assert any(isinstance(a, Activate) for a in out)
    activate(sm, now)
    assert sm.phase == ACTIVE


# --- start-up -----------------------------------------------------------------------


def test_both_start_inactive_and_send_a_heartbeat_at_once():
    sm = PulseState(role=BACKUP, timing=FAST)
    assert sm.start(0.0) == []
    assert sm.phase == INACTIVE
    assert Send() in sm.poll(0.0)
    assert sm.heartbeat_magic() == Magic.LVS_STOPPED
    # next heartbeat one keepalive later
    assert sm.poll(0.05) == []
    assert Send() in sm.poll(0.1)


def test_forceactive_activates_at_start():
    sm = PulseState(role=BACKUP, timing=FAST, force_active=True)
    out = sm.start(0.0)
    assert logs(out) == ["Forced active on startup: activating lvs"]
    assert Activate(1) in out and sm.phase == ACTIVATING


def test_standalone_primary_activates_at_once_and_sends_nothing():
    sm = PulseState(role=PRIMARY, timing=FAST, backup_active=False)
    out = sm.start(0.0)
    assert Activate(1) in out
    activate(sm)
    assert Send() not in sm.poll(10.0)


# --- the dead timer -------------------------------------------------------------------


def test_partner_dead_after_deadtime_of_silence():
    sm = make(BACKUP)
    sm.poll(0.0)
    assert not any(isinstance(a, Activate) for a in sm.poll(0.29))
    out = sm.poll(0.3)
    assert "partner dead: activating lvs" in logs(out)
    assert sm.partner == P_DEAD and sm.phase == ACTIVATING


def test_each_heartbeat_pushes_the_dead_timer():
    sm = make(BACKUP)
    for t in (0.2, 0.4, 0.6, 0.8):
        sm.heartbeat(RUN, t)
        assert not any(isinstance(a, Activate) for a in sm.poll(t + 0.29))
    assert any(isinstance(a, Activate) for a in sm.poll(1.1))


def test_primary_also_activates_when_the_backup_is_dead():
    sm = make(PRIMARY)
    assert "partner dead: activating lvs" in logs(sm.poll(0.3))


def test_dead_timer_blocked_by_link_failure_and_by_child_failure():
    sm = make(BACKUP)
    sm.links(["Primary NIC"], 0.0)
    assert not any(isinstance(a, Activate) for a in sm.poll(1.0))
    sm.links([], 1.0)
    sm.child_failed = True
    assert not any(isinstance(a, Activate) for a in sm.poll(2.0))


# --- the original's receive table ------------------------------------------------------


def test_active_backup_hearing_running_sends_once_more_then_deactivates():
    sm = make(BACKUP)
    bring_active(sm)
    out = sm.heartbeat(RUN, 1.0)
    assert kinds(out) == [Send, Log, Deactivate]
    assert logs(out) == ["partner active: deactivating LVS"]
    assert out[0] == Send(Magic.LVS_RUNNING)  # says what it was, so the primary re-ARPs
    assert sm.phase == INACTIVE


def test_active_primary_hearing_running_resends_arps_every_time():
    sm = make(PRIMARY)
    bring_active(sm)
    for t in (1.0, 1.1):
        out = sm.heartbeat(RUN, t)
        assert logs(out) == ["partner active: resending arps"]
        assert Reassert() in out
    assert sm.phase == ACTIVE


def test_inactive_primary_hearing_stopped_activates():
    sm = make(PRIMARY)
    out = sm.heartbeat(STOP, 0.1)
    assert logs(out) == ["backup inactive: activating lvs"]
    assert Activate(1) in out


def test_inactive_backup_takes_over_when_the_primary_steps_down():
    sm = make(BACKUP)
    sm.heartbeat(RUN, 0.1)
    out = sm.heartbeat(STOP, 0.2)
    assert logs(out) == ["primary inactive: activating lvs"]
    assert Activate(1) in out


def test_inactive_backup_does_not_bounce_at_start_up():
    """Original: the backup activated on the primary's first "stopped" (both went active)."""
    sm = make(BACKUP)
    assert sm.heartbeat(STOP, 0.1) == []
    assert sm.heartbeat(STOP, 0.2) == []
    assert sm.phase == INACTIVE


def test_inactive_backup_takes_over_from_a_primary_that_cannot_activate():
    sm = make(BACKUP)
    t = 0.1
    while t < 10.4:  # a whole activation (10 s) plus a deadtime
        assert sm.heartbeat(STOP, t) == []
        t = round(t + 0.1, 2)
    out = sm.heartbeat(STOP, 10.4)
    assert logs(out) == ["primary inactive: activating lvs"]


def test_link_or_child_failure_blocks_activation_on_stopped():
    sm = make(PRIMARY)
    sm.links(["Private NIC"], 0.0)
    assert sm.heartbeat(STOP, 0.1) == []
    sm.links([], 0.2)
    sm.child_failed = True
    assert sm.heartbeat(STOP, 0.3) == []


def test_running_clears_the_child_failure_flag():
    sm = make(BACKUP)
    sm.child_failed = True
    sm.heartbeat(RUN, 0.1)
    assert not sm.child_failed


def test_hold_and_held_change_nothing():
    sm = make(BACKUP)
    for magic in (Magic.HOLD, Magic.HELD):
        assert sm.heartbeat(magic, 0.1) == []
    assert sm.phase == INACTIVE


# --- "running" means ready -------------------------------------------------------------


def test_running_is_announced_only_once_activation_is_done():
    sm = make(BACKUP)
    sm.poll(0.3)
    assert sm.phase == ACTIVATING
    assert sm.heartbeat_magic() == Magic.LVS_STOPPED
    assert activate(sm, 0.35) == [Send()]  # at once, not at the next keepalive
    assert sm.heartbeat_magic() == Magic.LVS_RUNNING


def test_primary_activating_at_start_up_keeps_the_backup_from_bouncing():
    primary, backup = make(PRIMARY), make(BACKUP)
    primary.heartbeat(backup.heartbeat_magic(), 0.05)  # "stopped": activate
    assert primary.phase == ACTIVATING
    # lvsd takes a while; meanwhile the backup hears "running" and stays put
    for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
        assert backup.heartbeat(primary.heartbeat_magic(), t) == []
    assert backup.phase == INACTIVE


def test_backup_abandons_an_activation_when_the_primary_runs():
    sm = make(BACKUP)
    sm.poll(0.3)
    out = sm.heartbeat(RUN, 0.31)
    assert Deactivate() in out and sm.phase == INACTIVE
    # the late completion of the superseded activation changes nothing
    assert sm.activation_finished(1, True, 0.4) == []
    assert sm.phase == INACTIVE


def test_failed_activation_gives_the_role_away():
    sm = make(BACKUP)
    sm.poll(0.3)
    out = sm.activation_finished(sm.generation, False, 0.5, "lvsd did not report ready within 10 s")
    assert logs(out) == ["activation failed: lvsd did not report ready within 10 s"]
    assert Deactivate() in out and out[-1] == Send()
    assert sm.child_failed and sm.phase == INACTIVE
    assert not any(isinstance(a, Activate) for a in sm.poll(5.0))


# --- lvsd dying -----------------------------------------------------------------------


def test_lvsd_death_gives_up_the_role_and_says_stopped_at_once():
    sm = make(PRIMARY)
    bring_active(sm)
    out = sm.child_failed_event(2.0)
    assert kinds(out) == [Deactivate, Send]
    assert sm.heartbeat_magic() == Magic.LVS_STOPPED
    assert sm.child_failed
    # no blind restart: stopped from the partner does not reactivate us
    assert sm.heartbeat(STOP, 2.1) == []


def test_lvsd_death_on_a_standalone_router_exits_for_the_service_manager():
    sm = PulseState(role=PRIMARY, timing=FAST, backup_active=False)
    sm.start(0.0)
    activate(sm)
    out = sm.child_failed_event(1.0)
    assert out[0] == Deactivate() and out[-1] == Exit(1)


def test_lvsd_exit_while_inactive_is_ignored():
    assert make(BACKUP).child_failed_event(1.0) == []


# --- links ----------------------------------------------------------------------------


def test_link_loss_steps_down_with_the_original_lines_and_restores():
    sm = make(PRIMARY)
    bring_active(sm)
    out = sm.links(["Primary NIC", "Private NIC"], 1.0)
    assert logs(out) == [
        "Primary NIC: link down",
        "Private NIC: link down",
        "Local NIC link failure: Pulse disabled",
        "local link failure: deactivating LVS",
    ]
    assert Deactivate() in out and out[-1] == Send()
    assert sm.links(["Primary NIC"], 1.1) == []  # logged once
    assert logs(sm.links([], 2.0)) == ["Local NIC link(s) restored: Pulse enabled"]
    assert not sm.link_failed


# --- clean stop --------------------------------------------------------------------------


def test_sigterm_says_stopped_first_hands_over_then_deactivates_and_exits():
    sm = make(PRIMARY)
    bring_active(sm)  # heard the backup: it is alive
    out = sm.stop(15, 3.0)
    assert logs(out) == ["Terminating due to signal 15"]
    assert kinds(out) == [Log, Send, HandOver, Deactivate, Exit]
    assert sm.heartbeat_magic() == Magic.LVS_STOPPED
    assert out[-1] == Exit(0)
    assert not sm.handed_over
    assert sm.heartbeat(STOP, 3.1) == []  # nothing more happens while stopping
    assert not sm.handed_over
    assert sm.heartbeat(RUN, 3.2) == []
    assert sm.handed_over  # the daemon stops serving now


def test_sigterm_with_a_dead_partner_does_not_wait_for_a_hand_over():
    sm = make(PRIMARY)
    sm.poll(0.3)  # partner dead: activate
    activate(sm, 0.3)
    assert kinds(sm.stop(15, 1.0)) == [Log, Send, Deactivate, Exit]


def test_sigterm_when_inactive_still_deactivates_for_inactive_cmd():
    out = make(BACKUP).stop(2, 1.0)
    assert Deactivate(was_active=False) in out


# --- split brain ------------------------------------------------------------------------


def test_both_active_after_a_partition_converge_to_the_primary_in_one_heartbeat():
    primary, backup = make(PRIMARY), make(BACKUP)
    primary.poll(0.3)
    activate(primary, 0.3)
    backup.poll(0.3)
    activate(backup, 0.3)
    assert primary.phase == backup.phase == ACTIVE
    # the partition heals: each hears the other's next heartbeat
    out_b = backup.heartbeat(primary.heartbeat_magic(), 1.0)
    out_p = primary.heartbeat(Magic.LVS_RUNNING, 1.0)
    assert backup.phase == INACTIVE and Deactivate() in out_b
    assert primary.phase == ACTIVE and Reassert() in out_p


# --- fail-back -------------------------------------------------------------------------


def test_returning_primary_takes_over_after_the_hold_down():
    sm = make(PRIMARY)
    out = sm.heartbeat(RUN, 0.1)  # the backup is serving
    assert "fail-back hold-down" in logs(out)[0]
    assert not any(isinstance(a, Activate) for a in running_heartbeats(sm, 0.2, 1.0))
    assert sm.next_deadline() <= 1.1
    out = sm.poll(1.1)
    assert any(isinstance(a, Activate) for a in out)
    assert logs(out) == ["primary back for 1 s (fail-back hold-down): activating lvs"]
    # until lvsd is ready the primary still says stopped, so the backup keeps serving
    assert sm.heartbeat_magic() == Magic.LVS_STOPPED
    activate(sm, 1.2)
    assert sm.heartbeat_magic() == Magic.LVS_RUNNING


def running_heartbeats(sm, start, end):
    """The backup keeps serving: a "running" heartbeat every keepalive; the actions seen."""
    out, t = [], start
    while t <= end + 1e-9:
        out += sm.heartbeat(RUN, t) + sm.poll(t)
        t = round(t + 0.1, 3)
    return out


def test_flapping_primary_never_completes_the_hold_down():
    for _restart in range(5):
        sm = make(PRIMARY)  # pulse restarted after 0.9 s: everything starts over
        assert not any(isinstance(a, Activate) for a in running_heartbeats(sm, 0.1, 0.9))


def test_hold_down_restarts_after_a_link_failure():
    sm = make(PRIMARY)
    running_heartbeats(sm, 0.1, 0.5)
    sm.links(["Primary NIC"], 0.55)
    sm.links([], 0.65)
    assert not any(isinstance(a, Activate) for a in running_heartbeats(sm, 0.7, 1.6))
    assert any(isinstance(a, Activate) for a in running_heartbeats(sm, 1.7, 1.8))


def test_failback_can_be_switched_off_like_the_original():
    sm = make(PRIMARY, timing=Timing(0.1, 0.3, failback=False))
    for t in range(1, 100):
        sm.heartbeat(RUN, t / 10)
        assert not any(isinstance(a, Activate) for a in sm.poll(t / 10))


def test_zero_hold_down_fails_back_at_once():
    sm = make(PRIMARY, timing=Timing(0.1, 0.3, failback=True, failback_delay=0))
    assert any(isinstance(a, Activate) for a in sm.heartbeat(RUN, 0.1))


def test_backup_never_fails_back():
    sm = make(BACKUP)
    sm.heartbeat(RUN, 0.1)
    assert sm._failback_due() is None


# --- fos ------------------------------------------------------------------------------------

FRUN, FSTOP = Magic.FOS_RUNNING, Magic.FOS_STOPPED


def make_fos(role=BACKUP, **kw):
    sm = PulseState(role=role, service="fos", timing=FAST, **kw)
    return sm, sm.start(0.0)


def test_fos_inactive_node_starts_monitors():
    sm, out = make_fos()
    assert logs(out) == ["Starting Failover Service Monitors"]
    assert StartMonitors() in out
    assert sm.heartbeat_magic() == Magic.FOS_STOPPED


def test_fos_master_without_backup_goes_active_at_once():
    _sm, out = make_fos(PRIMARY, backup_active=False)
    assert logs(out) == ["Warning: FOS backup node not defined -- skipping checks"]
    assert Activate(1) in out


def test_fos_partner_dead_line():
    sm, _ = make_fos()
    assert "partner dead: activating failover services" in logs(sm.poll(0.3))


def test_fos_monitor_failure_with_gateway_takes_control_and_sends_stop_me():
    sm, _ = make_fos()
    sm.heartbeat(FRUN, 0.1)
    out = sm.monitors_failed(0.2)
    assert logs(out) == ["fos process exited -- checking network connectivity"]
    assert CheckConnectivity() in out
    out = sm.connectivity(True, 0.3)
    assert logs(out) == [
        "remote service unavailable but we can see the gateway",
        "seems like a remote network fault; performing service failover",
        "Notifying partner WE are taking control!",
    ]
    assert Activate(1) in out and Send() in out
    assert sm.heartbeat_magic() == Magic.FOS_STOPME
    # the partner is still running: we insist
    assert logs(sm.heartbeat(FRUN, 0.4)) == ["partner active: we want control!"]
    assert sm.active
    # once it says stopped, we say running
    activate(sm, 0.45)
    sm.heartbeat(FSTOP, 0.5)
    assert sm.heartbeat_magic() == Magic.FOS_RUNNING


def test_fos_monitor_failure_without_gateway_is_a_network_fault_until_a_public_heartbeat():
    sm, _ = make_fos()
    out = sm.connectivity(False, 0.3)
    assert logs(out) == [
        "remote service unavailable; gateway unavailable",
        "I SEEM TO HAVE A NETWORK FAULT!",
    ]
    assert sm.network_fault and not sm.active
    assert sm.heartbeat(FRUN, 0.4, public=False) == []
    out = sm.heartbeat(FRUN, 0.5, public=True)
    assert logs(out) == ["Network fault seems to be fixed"] and StartMonitors() in out


def test_fos_active_master_told_to_go_inactive():
    sm, _ = make_fos(PRIMARY)
    sm.heartbeat(FSTOP, 0.1)
    activate(sm, 0.1)
    out = sm.heartbeat(Magic.FOS_STOPME, 0.2)
    assert logs(out)[0] == "PARTNER HAS TOLD US TO GO INACTIVE!"
    assert Deactivate() in out and StartMonitors() in out
    assert sm.phase == INACTIVE


def test_fos_active_backup_yields_to_running_master_unless_taking_control():
    sm, _ = make_fos()
    sm.poll(0.3)
    activate(sm, 0.3)
    out = sm.heartbeat(FRUN, 0.4)
    assert logs(out) == ["partner active: deactivating FOS"]
    assert StartMonitors() in out


def test_fos_has_no_failback():
    sm, _ = make_fos(PRIMARY)
    for t in range(1, 40):
        assert not any(
            isinstance(a, Activate) for a in sm.heartbeat(FRUN, t / 10) + sm.poll(t / 10)
        )


@pytest.mark.parametrize("role", [PRIMARY, BACKUP])
def test_status_fields(role):
    sm = make(role)
    assert sm.partner == "unknown" and sm.heartbeat_age(1.0) is None
    sm.heartbeat(STOP, 0.5)
    assert sm.partner == P_STOPPED and sm.heartbeat_age(0.75) == 0.25
    sm.heartbeat(RUN, 0.6)
    assert sm.partner == P_RUNNING
