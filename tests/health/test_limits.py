"""Socket/child bounds and the timer wheel: late is allowed, early and lost are not."""

from __future__ import annotations

import asyncio
import resource

from piranha.health import Monitor, cancel_and_wait
from piranha.health.limits import Limits, Slots, limits, socket_slots
from piranha.health.wheel import RESOLUTION, TimerWheel
from piranha.runtime.limits import raise_fd_limit

from .recording import CheckLog, RecordingActions, capture
from .servers import TcpServer
from .test_monitor import spec


def test_slots_serve_waiters_in_order_and_pass_declined_slots_on():
    slots = Slots(1)
    started: list[str] = []

    def starter(name: str, accept: bool = True):
        def start() -> bool:
            if accept:
                started.append(name)
            return accept

        return start

    slots.request(starter("a"))
    slots.request(starter("b"))
    slots.request(starter("cancelled", accept=False))
    slots.request(starter("c"))
    assert started == ["a"] and slots.free == 0
    slots.release()
    assert started == ["a", "b"]
    slots.release()  # "cancelled" declines: c gets it
    assert started == ["a", "b", "c"]
    slots.release()
    assert slots.free == 1


def test_hold_for_coroutines_survives_cancellation():
    async def main():
        slots = Slots(1)
        async with slots.hold():
            waiter = asyncio.create_task(_enter(slots))
            await asyncio.sleep(0.01)
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
        assert slots.free == 1
        await _enter(slots)
        assert slots.free == 1

    async def _enter(slots: Slots) -> None:
        async with slots.hold():
            pass

    asyncio.run(main())


def test_socket_slots_follow_the_fd_limit():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert 16 <= socket_slots() <= max(16, soft)
    assert raise_fd_limit() >= soft


def test_a_check_waiting_for_a_slot_is_late_not_failed():
    async def main():
        loop = asyncio.get_running_loop()
        own = Limits()
        own.sockets = Slots(1)
        from piranha.health import limits as limits_module

        limits_module._PER_LOOP[loop] = own
        assert limits() is own
        hung, good = await TcpServer("hang").start(), await TcpServer("close").start()
        log = capture("slots")[0]
        waiting_log = CheckLog()
        blocker = Monitor(
            spec(hung.port, vport=8080, expect="HTTP", timeout=0.6),
            RecordingActions(),
            log=log,
            start_delay=0,
        )
        actions = RecordingActions()
        waiting = Monitor(
            spec(good.port, vport=8080, timeout=0.2),
            actions,
            log=log,
            start_delay=0.05,
            on_check=waiting_log,
        )
        tasks = [asyncio.create_task(blocker.run()), asyncio.create_task(waiting.run())]
        await actions.wait_for(1)
        for t in tasks:
            await cancel_and_wait(t)
        await hung.stop()
        await good.stop()
        return waiting_log.checks, actions.actions()

    checks, acts = asyncio.run(main())
    first = checks[0]
    assert first.ok  # it waited for the hung check's slot, then passed
    assert first.finished - first.scheduled > 0.2  # longer than its own timeout: it was late
    assert acts == [("admit", 2)]


def test_wheel_timers_never_fire_early_and_cancel_cleanly():
    async def main():
        loop = asyncio.get_running_loop()
        wheel = TimerWheel(loop)
        fired: list[tuple[float, float]] = []
        for i in range(50):
            delay = i * 0.0017
            due = loop.time() + delay
            wheel.call_later(delay, lambda due=due: fired.append((due, loop.time())))
        due_together = loop.time() + 0.03
        for _ in range(150):  # more than one turn's batch in one slot
            wheel.call_at(due_together, lambda: fired.append((due_together, loop.time())))
        dropped = wheel.call_later(0.01, lambda: fired.append((-1.0, -1.0)))
        dropped.cancel()

        def boom() -> None:
            raise RuntimeError("one bad callback")

        loop.set_exception_handler(lambda loop, ctx: None)
        wheel.call_later(0.02, boom)
        wheel.call_later(0.02, lambda: fired.append((0.0, 0.0)))
        await asyncio.sleep(0.2)
        return fired

    fired = asyncio.run(main())
    assert len(fired) == 201 and (-1.0, -1.0) not in fired
    assert all(at >= due for due, at in fired)
    assert RESOLUTION <= 0.01


def test_checks_run_on_the_loops_own_readers_where_there_is_no_epoll():
    from piranha.health import poller as poller_module
    from piranha.health.checks import run_probe
    from piranha.health.probe import build_probe

    from .test_checks import spec as check_spec

    async def main():
        loop = asyncio.get_running_loop()
        poller_module._PER_LOOP[loop] = poller_module.LoopPoller(loop)
        server = await TcpServer("reply").start()
        s = check_spec(server.port, send="GET /", expect="HTTP")
        up = await run_probe(build_probe(s), s.address, s.port, s.timeout)
        server.mode = "hang"
        down = await run_probe(build_probe(s), s.address, s.port, s.timeout)
        await server.stop()
        return up, down

    up, down = asyncio.run(main())
    assert up.ok and not down.ok and "READ to" in down.reason
