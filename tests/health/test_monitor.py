"""The Monitor against real loopback servers: outcomes reach the Actions, in time, never early."""

from __future__ import annotations

import asyncio
import stat
import sys
import time
from dataclasses import replace

import pytest

from piranha.health import CheckSpec, Monitor, MonitorSpec, cancel_and_wait
from piranha.health import machine as machine_module
from piranha.health.wheel import RESOLUTION

from .recording import CheckLog, RecordingActions, capture
from .servers import TcpServer, UdpServer, free_tcp_port

INTERVAL = 0.4
REENTRY = 1.0


def spec(port: int, *, label: str = "www/web1", **kw) -> MonitorSpec:
    check = CheckSpec(
        address="127.0.0.1",
        port=port,
        vport=80,
        protocol="tcp",
        send=None,
        expect=None,
        use_regex=False,
        send_program=None,
        tls=False,
        timeout=kw.pop("timeout", INTERVAL),
    )
    check = replace(check, **{k: kw.pop(k) for k in list(kw) if hasattr(check, k)})
    base = MonitorSpec(
        check=check,
        label=label,
        vip="192.168.0.100",
        reentry=REENTRY,
        quiesce=False,
        weight=64,
        load_monitor=None,
        rsh_command="rsh",
    )
    return replace(base, **kw)


FAULTS = {
    "stopped": None,  # the listener goes away: connection refused
    "hang": "hang",
    "wrong answer": "reply-wrong",
    "reset": "reset",
    "fragments never complete": "fragments",
}


async def _inject(server: TcpServer, fault: str) -> None:
    if fault == "stopped":
        await server.stop()
    elif fault == "wrong answer":
        server.reply = b"SSH-2.0-OpenSSH_9.2\r\n"
    elif fault == "fragments never complete":
        server.mode = "fragments"
        server.fragments = [(0.0, b"HT"), (30.0, b"TP")]
    else:
        server.mode = FAULTS[fault]


async def _repair(server: TcpServer, fault: str) -> None:
    server.mode = "reply"
    server.reply = b"HTTP/1.0 200 OK\r\n\r\n"
    if fault == "stopped":
        await server.start()


def test_every_fault_is_seen_within_two_timeouts_and_readmitted_no_earlier_than_reentry():
    async def one(fault: str):
        server = await TcpServer("reply").start()
        actions, checks = RecordingActions(), CheckLog()
        log, lines = capture(fault)
        monitor = Monitor(spec(server.port), actions, log=log, start_delay=0, on_check=checks)
        task = asyncio.create_task(monitor.run())
        await actions.wait_for(1)  # admitted
        await asyncio.sleep(INTERVAL * 1.3)
        t_fault = time.monotonic()
        await _inject(server, fault)
        await actions.wait_for(2)
        t_withdraw = actions.events[1].at
        await _repair(server, fault)
        t_repair = time.monotonic()
        await actions.wait_for(3)
        await cancel_and_wait(task)
        await server.stop()
        return actions, checks.checks, lines.lines, t_fault, t_withdraw, t_repair

    async def main():
        return await asyncio.gather(*(one(f) for f in FAULTS))

    for fault, (actions, checks, lines, t_fault, t_withdraw, t_repair) in zip(
        FAULTS, asyncio.run(main()), strict=True
    ):
        assert actions.actions()[:3] == [("admit", 2), ("withdraw", False), ("admit", 2)], fault
        # The failure reached the Actions within the documented worst case:
        # the next check starts at most one interval after the fault and lasts
        # at most `timeout` (+ the detecting check's own lateness, + the wheel).
        detecting = next(c for c in checks if not c.ok)
        lateness = detecting.started - detecting.scheduled
        bound = 2 * INTERVAL + lateness + 2 * RESOLUTION + 0.05
        assert t_withdraw - t_fault <= bound, (fault, t_withdraw - t_fault, bound)
        assert detecting.finished - detecting.started <= INTERVAL + 2 * RESOLUTION + 0.05
        # Re-admission: never earlier than `reentry` after the last failed check.
        t_admit = actions.events[2].at
        last_failure = max(c.finished for c in checks if not c.ok and c.finished < t_admit)
        assert t_admit - last_failure >= REENTRY, fault
        assert last_failure <= t_repair + INTERVAL + 0.5
        assert any(line.startswith("[inactive] shutting down 127.0.0.1:") for line in lines)
        assert any(line.startswith("127.0.0.1:") and "answers again" in line for line in lines)


def test_log_lines_keep_the_original_wording():
    async def main():
        server = await TcpServer("reply").start()
        actions = RecordingActions()
        log, lines = capture("wording")
        monitor = Monitor(spec(server.port), actions, log=log, start_delay=0)
        task = asyncio.create_task(monitor.run())
        await actions.wait_for(1)
        server.mode = "hang"
        await actions.wait_for(2)
        monitor.force("down")
        monitor.force("up")
        monitor.force("resume")
        await asyncio.sleep(0.05)
        await cancel_and_wait(task)
        await server.stop()
        return lines.lines, server.port

    lines, port = asyncio.run(main())
    where, ctx = f"127.0.0.1:{port}", " [www/web1]"
    assert lines[:3] == [
        f"starting LVS client monitor for 192.168.0.100:80 -> {where}{ctx}",
        f"no monitor configured, assuming web service on port 80{ctx}",
        f"[ active ] making {where} available{ctx}",
    ]
    assert f"READ to {where} timed out{ctx}" in lines
    assert f"[inactive] shutting down {where} due to connection failure{ctx}" in lines
    assert f"opaque glasses on{ctx}" in lines
    assert f"rose-colored glasses on{ctx}" in lines
    assert f"DEBUG -- removing glasses{ctx}" in lines


def test_quiesce_withdraws_to_weight_zero():
    async def main():
        server = await TcpServer("close").start()
        actions = RecordingActions()
        m = Monitor(
            spec(server.port, vport=8080, quiesce=True), actions, log=capture("q")[0], start_delay=0
        )
        task = asyncio.create_task(m.run())
        await actions.wait_for(1)
        await server.stop()
        await actions.wait_for(2)
        await cancel_and_wait(task)
        return actions.actions()

    assert asyncio.run(main()) == [("admit", 2), ("withdraw", True)]


def test_a_hung_check_never_stalls_another_monitor():
    async def main():
        hung = await TcpServer("hang").start()
        good = await TcpServer("reply").start()
        slow_log, fast_log = CheckLog(), CheckLog()
        log = capture("stall")[0]
        slow = Monitor(
            spec(hung.port, timeout=30.0),
            RecordingActions(),
            log=log,
            start_delay=0,
            on_check=slow_log,
        )
        fast = Monitor(
            spec(good.port, timeout=0.1),
            RecordingActions(),
            log=log,
            start_delay=0,
            on_check=fast_log,
        )
        tasks = [asyncio.create_task(slow.run()), asyncio.create_task(fast.run())]
        while len(fast_log.checks) < 5:
            await asyncio.sleep(0.02)
        done_slow = len(slow_log.checks)
        for t in tasks:
            await cancel_and_wait(t)
        await hung.stop()
        await good.stop()
        return done_slow, fast_log.checks

    done_slow, fast_checks = asyncio.run(main())
    assert done_slow == 0  # the hung check is still waiting for its reply
    assert all(c.ok for c in fast_checks)


def test_force_down_up_resume_reach_the_actions():
    async def main():
        server = await TcpServer("close").start()
        actions = RecordingActions()
        m = Monitor(
            spec(server.port, vport=8080, quiesce=True),
            actions,
            log=capture("force")[0],
            start_delay=0,
        )
        task = asyncio.create_task(m.run())
        await actions.wait_for(1)
        m.force("down")
        await actions.wait_for(2)
        status_down = m.status()
        m.force("up")
        await actions.wait_for(3)
        await server.stop()  # checks fail while forced up: nothing happens
        await asyncio.sleep(INTERVAL * 2.5)
        assert len(actions.events) == 3
        m.force("resume")
        await actions.wait_for(4)
        await cancel_and_wait(task)
        return actions.actions(), status_down, m.status()

    acts, status_down, status = asyncio.run(main())
    assert acts == [("admit", 2), ("withdraw", False), ("admit", 64), ("withdraw", True)]
    assert status_down["forced"] == "down" and status_down["state"] == "down"
    assert status["forced"] is None and status["state"] == "down" and status["failures"] >= 2


def test_failed_actions_are_retried_at_the_next_check():
    async def main():
        server = await TcpServer("close").start()
        actions = RecordingActions(fail_next=2)
        log, lines = capture("retry")
        m = Monitor(spec(server.port, vport=8080), actions, log=log, start_delay=0)
        task = asyncio.create_task(m.run())
        await actions.wait_for(1)
        await cancel_and_wait(task)
        await server.stop()
        return actions.actions(), lines.lines

    acts, lines = asyncio.run(main())
    assert acts == [("admit", 2)]
    assert sum("admit of 127.0.0.1:" in line and "retrying" in line for line in lines) == 2


def test_status_and_a_shorter_interval_applied_in_place():
    async def main():
        server = await TcpServer("close").start()
        actions = RecordingActions()
        s = spec(server.port, vport=8080, weight=4, timeout=30.0)  # one check per 30 s
        m = Monitor(s, actions, log=capture("reconf")[0], start_delay=0)
        task = asyncio.create_task(m.run())
        await actions.wait_for(1)
        before = m.status()
        m.reconfigure(replace(s, check=replace(s.check, timeout=0.1)))
        async with asyncio.timeout(10):
            while m.status()["checks"] < 3:
                await asyncio.sleep(0.02)
        after = m.status()
        await cancel_and_wait(task)
        await server.stop()
        return actions.actions(), before, after

    acts, before, after = asyncio.run(main())
    assert acts == [("admit", 1)]  # 4/32 -> 1; the state survived the reload
    assert before["virtual"] == "www" and before["server"] == "web1"
    assert before["state"] == "up" and before["weight"] == 1 and before["forced"] is None
    assert before["address"] == "127.0.0.1" and before["checks"] == 1
    assert isinstance(before["since"], float) and before["last_error"] is None
    assert after["state"] == "up" and after["since"] == pytest.approx(before["since"], abs=0.01)


def test_reconfigure_lowers_the_weight_of_a_fully_ramped_server():
    async def main():
        server = await TcpServer("close").start()
        actions = RecordingActions()
        s = spec(server.port, vport=8080, weight=1)
        m = Monitor(s, actions, log=capture("reconf2")[0], start_delay=0)
        task = asyncio.create_task(m.run())
        await actions.wait_for(1)
        m.reconfigure(replace(s, weight=3))
        m.reconfigure(replace(s, weight=1))
        await asyncio.sleep(0.05)
        await cancel_and_wait(task)
        await server.stop()
        return actions.actions()

    assert asyncio.run(main()) == [("admit", 1), ("set_weight", 3), ("set_weight", 1)]


def test_load_monitoring_raises_the_weight_of_an_idle_server(tmp_path, monkeypatch):
    monkeypatch.setattr(machine_module, "ADJUST_SECONDS", 0.2)
    fake_rsh = tmp_path / "fake-rsh"
    fake_rsh.write_text(
        f"#!{sys.executable}\nimport sys\n"
        "assert sys.argv[2] == 'uptime'\n"
        "print(' 10:14:07 up 3 days,  2:03,  2 users,  load average: 0.00, 0.01, 0.05')\n"
    )
    fake_rsh.chmod(fake_rsh.stat().st_mode | stat.S_IXUSR)

    async def main():
        server = await TcpServer("close").start()
        actions = RecordingActions()
        s = spec(
            server.port,
            vport=8080,
            weight=4,
            timeout=0.1,
            load_monitor="uptime",
            rsh_command=str(fake_rsh),
        )
        m = Monitor(s, actions, log=capture("load")[0], start_delay=0)
        task = asyncio.create_task(m.run())
        await actions.wait_for(3, timeout=20)
        await cancel_and_wait(task)
        await server.stop()
        return actions.actions()

    acts = asyncio.run(main())
    assert acts[:2] == [("admit", 1), ("set_weight", 2)]  # slow start: 4/32 -> 1, 2, 4 ...
    weights = [v for a, v in acts if a == "set_weight"]
    assert max(weights) <= 40


def test_udp_monitor():
    async def main():
        server = await UdpServer("echo").start()
        actions = RecordingActions()
        s = spec(server.port, protocol="udp", vport=53, send="ping", expect="ping")
        m = Monitor(s, actions, log=capture("udp")[0], start_delay=0)
        task = asyncio.create_task(m.run())
        await actions.wait_for(1)
        await server.stop()
        await actions.wait_for(2)
        await cancel_and_wait(task)
        return actions.actions()

    assert asyncio.run(main()) == [("admit", 2), ("withdraw", False)]


@pytest.mark.parametrize("available_first", [True, False])
def test_failover_watch_ends_the_run(available_first):
    async def main():
        port = free_tcp_port()
        server = await TcpServer("close").start() if available_first else None
        s = spec(
            server.port if server else port, vport=8080, lvs_mode=False, label="ftp", timeout=0.2
        )
        log, lines = capture("fos")
        m = Monitor(s, None, log=log, start_delay=0)
        task = asyncio.create_task(m.run())
        if server is not None:
            await asyncio.sleep(0.3)
            await server.stop()
        async with asyncio.timeout(10):
            await task
        return m.outcome, lines.lines

    outcome, lines = asyncio.run(main())
    if available_first:
        assert outcome == "lost"
        assert any(line.startswith("Remote service 127.0.0.1:") for line in lines)
        assert any(line.startswith("Exiting due to connection failure of") for line in lines)
    else:
        assert outcome == "never"
        assert "No service active & available... [ftp]" in lines
        assert "Timeout waiting for remote service -- triggering failover! [ftp]" in lines


def test_many_monitors_in_one_loop():
    async def main():
        servers = [await TcpServer("close").start() for _ in range(4)]
        actions = [RecordingActions() for _ in range(400)]
        log = capture("many")[0]
        monitors = [
            Monitor(spec(servers[i % 4].port, vport=8080, label=f"v/s{i}", timeout=0.5), a, log=log)
            for i, a in enumerate(actions)
        ]
        tasks = [asyncio.create_task(m.run()) for m in monitors]
        async with asyncio.timeout(20):
            while any(not a.events for a in actions):
                await asyncio.sleep(0.05)
        for t in tasks:
            await cancel_and_wait(t)
        for s in servers:
            await s.stop()
        return [a.actions() for a in actions], [m.status()["checks"] for m in monitors]

    acts, checks = asyncio.run(main())
    assert all(a == [("admit", 2)] for a in acts)
    assert all(c >= 1 for c in checks)
