"""lvsd's behaviour in one event loop: verdicts -> table, coalesced converges, sorry server, drain, reload."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from piranha.table.model import Forward, ServiceKey

from .cfg import config_text, server, virtual
from .fakes import running

KEY = ServiceKey.tcp("192.168.0.1", 80)
WEB1, WEB2 = ("10.0.0.2", 80), ("10.0.0.3", 80)


def www(*, extra: str = "", servers: tuple[str, ...] | None = None, globals_: str = "") -> str:
    if servers is None:
        servers = (server("web1", "10.0.0.2", weight=3), server("web2", "10.0.0.3"))
    return config_text(virtual("www", "192.168.0.1", *servers, extra=extra), globals_=globals_)


def test_start_sets_services_up_without_real_servers(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www(globals_="tcp_timeout = 60")) as h:
            assert list(h.lvsd.table.services) == [KEY]
            assert h.weights(KEY) == {}
            assert h.lvsd.table.timeouts.tcp == 60
            assert h.lvsd.table.timeouts.tcpfin == 120  # 0 = default
            assert h.backend.started and h.backend.converges == 1
            assert h.notes[0] == "READY=1"
            assert [m.spec.label for m in h.monitors] == ["www/web1", "www/web2"]
            assert h.log.lines[:3] == [
                "starting virtual service www active: 80",
                "create_monitor for www/web1",
                "create_monitor for www/web2",
            ]
            assert h.lvsd.table.get(KEY).name == "www"
        assert h.backend.stopped
        assert "shutting down virtual service www" in h.log.lines
        assert "STOPPING=1" in h.notes
        assert all(m.cancelled for m in h.monitors)

    asyncio.run(main())


def test_verdicts_reach_the_table(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www(extra="quiesce_server = 0")) as h:
            web1 = h.monitor("www/web1")
            await web1.up(1)  # slow start begins at weight/32, at least 1
            await h.settle()
            assert h.weights(KEY) == {WEB1: 1}
            assert h.lvsd.table.get(KEY).destinations[0].forward is Forward.MASQ
            await web1.actions.set_weight(3)
            assert h.weights(KEY) == {WEB1: 3}
            await web1.down()
            assert h.weights(KEY) == {}
            await h.settle()
            assert h.backend.programmed[-1] == {KEY: {}}

    asyncio.run(main())


def test_quiesce_keeps_the_entry_at_weight_zero(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www(extra="quiesce_server = 1")) as h:
            web1 = h.monitor("www/web1")
            await web1.up(3)
            await web1.down()
            assert h.weights(KEY) == {WEB1: 0}
            await web1.up(1)
            assert h.weights(KEY) == {WEB1: 1}

    asyncio.run(main())


def test_many_changes_in_one_turn_make_one_converge(tmp_path: Path) -> None:
    servers = tuple(server(f"s{i}", f"10.0.1.{i}") for i in range(1, 21))

    async def main() -> None:
        async with running(tmp_path, www(servers=servers)) as h:
            before = h.backend.converges
            await asyncio.gather(*(m.up(1) for m in h.monitors))
            await h.settle()
            assert h.backend.converges == before + 1
            assert len(h.backend.programmed[-1][KEY]) == 20

    asyncio.run(main())


def test_sorry_server_in_while_nothing_is_up(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www(extra="sorry_server = 10.0.0.200")) as h:
            web1, web2 = h.monitor("www/web1"), h.monitor("www/web2")
            await h.lvsd.tick()
            assert h.weights(KEY) == {}, "no verdict yet: too early to call for the sorry server"
            web1.state = web2.state = "down"  # first checks failed (no withdraw: never admitted)
            await h.lvsd.tick()
            assert h.weights(KEY) == {("10.0.0.200", 80): 1}
            assert (
                "Virtual Server www: No real servers; activate sorry_server 10.0.0.200"
                in h.log.lines
            )
            table = h.lvsd.status()
            assert table["state"] == "active"
            await web2.up(1)
            assert h.weights(KEY) == {WEB2: 1}
            assert (
                "Virtual Server www: 1 real servers; deactivate sorry_server 10.0.0.200"
                in h.log.lines
            )
            await web2.down()
            assert h.weights(KEY) == {("10.0.0.200", 80): 1}

    asyncio.run(main())


def test_drain_waits_for_the_connections(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www()) as h:
            lvsd = h.lvsd
            web1 = h.monitor("www/web1")
            await web1.up(3)
            state = lvsd.states[KEY]
            slot = state.slots[WEB1]
            conns = lvsd.table.connections
            conn = conns.schedule(
                lvsd.table.get(KEY), 6, "1.2.3.4", 5555, "192.168.0.1", 80, lvsd.now()
            )
            assert conn is not None and conn.daddr == "10.0.0.2"
            await lvsd.start_drain(state, slot, None)
            assert h.weights(KEY) == {WEB1: 0}
            await h.lvsd.tick()
            assert h.weights(KEY) == {WEB1: 0}, "a connection is still open"
            await web1.up(3)  # the checks keep passing: no re-admission while draining
            assert h.weights(KEY) == {WEB1: 0}
            assert conns.remove(conn)
            await h.lvsd.tick()
            assert h.weights(KEY) == {}
            assert any("drained (no connections left)" in line for line in h.log.lines)
            await lvsd.stop_drain(state, slot)
            assert h.weights(KEY) == {WEB1: 3}

    asyncio.run(main())


def test_drain_deadline(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www()) as h:
            lvsd = h.lvsd
            await h.monitor("www/web1").up(3)
            state = lvsd.states[KEY]
            lvsd.table.connections.schedule(
                lvsd.table.get(KEY), 6, "1.2.3.4", 5555, "192.168.0.1", 80, lvsd.now()
            )
            await lvsd.start_drain(state, state.slots[WEB1], 0)
            await h.lvsd.tick()
            assert h.weights(KEY) == {}
            assert any("deadline reached with 1 connection left" in line for line in h.log.lines), (
                h.log.lines
            )

    asyncio.run(main())


def test_reload_edits_in_place(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www(extra="scheduler = wlc")) as h:
            lvsd = h.lvsd
            await h.monitor("www/web1").up(3)
            await h.monitor("www/web2").up(1)
            service = lvsd.table.get(KEY)
            dest = service.find(*WEB1)
            conn = lvsd.table.connections.schedule(
                service, 6, "1.2.3.4", 5555, "192.168.0.1", 80, lvsd.now()
            )
            h.write(
                www(
                    extra="scheduler = rr\npersistent = 30\ntimeout = 4",
                    servers=(server("web1", "10.0.0.2", weight=7), server("web2", "10.0.0.3")),
                )
            )
            assert await lvsd.reload() == {"ok": True, "errors": []}
            assert lvsd.table.get(KEY) is service
            assert service.find(*WEB1) is dest
            assert (service.scheduler_name, service.persistent) == ("rr", 30)
            assert conn in lvsd.table.connections.entries()
            web1 = h.monitor("www/web1")
            assert web1.reconfigured and web1.reconfigured[-1].weight == 7
            assert web1.reconfigured[-1].check.timeout == 4.0
            assert len(h.monitors) == 2, "no monitor was restarted"
            assert lvsd.last_reload["ok"]
            assert h.notes[h.notes.index("RELOADING=1") + 1] == "READY=1"

    asyncio.run(main())


def test_reload_removes_only_the_server_that_left_and_drains_it(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www()) as h:
            lvsd = h.lvsd
            web1, web2 = h.monitor("www/web1"), h.monitor("www/web2")
            await web1.up(3)
            await web2.up(1)
            service = lvsd.table.get(KEY)
            lvsd.table.connections.schedule(service, 6, "1.2.3.4", 1, "192.168.0.1", 80, lvsd.now())
            h.write(www(servers=(server("web2", "10.0.0.3"), server("web3", "10.0.0.4"))))
            await lvsd.reload()
            assert web1.cancelled and not web2.cancelled
            weights = h.weights(KEY)
            # web1 had the connection (wlc picks the higher weight): drained at weight 0
            assert weights[WEB1] == 0 and weights[WEB2] == 1
            assert h.monitor("www/web3").spec.label == "www/web3"
            assert any("left the configuration" in line for line in h.log.lines)

    asyncio.run(main())


def test_a_bad_file_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www()) as h:
            lvsd = h.lvsd
            await h.monitor("www/web1").up(3)
            before = (dict(h.weights(KEY)), lvsd.table.get(KEY).scheduler_name, len(h.monitors))
            h.write(www().replace("port = 80", "port = 80x").replace("weight = 3", "wieght = 3"))
            result = await lvsd.reload()
            assert not result["ok"]
            assert [
                re.sub(r":\d+:\d+: ", ":L:C: ", e).split(" for ")[0] for e in result["errors"]
            ] == [
                f"{h.path}:L:C: error: port number or service name expected",
                f"{h.path}:L:C: error: unknown keyword `wieght` in server `web1` of virtual `www` — did you mean `weight`?",
            ]
            assert (
                dict(h.weights(KEY)),
                lvsd.table.get(KEY).scheduler_name,
                len(h.monitors),
            ) == before
            assert any(
                line.startswith(f"{h.path}:") and ": error: " in line for line in h.log.lines
            )
            assert lvsd.status()["last_reload"]["ok"] is False

    asyncio.run(main())


def test_reload_restores_a_service_deleted_with_lvsadm(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www()) as h:
            lvsd = h.lvsd
            await h.monitor("www/web1").up(3)
            result = await lvsd.lvsadm(["-D", "-t", "192.168.0.1:80"], "", "lvsadm")
            assert result["exit_code"] == 0 and result["changed"]
            assert KEY not in lvsd.table.services
            await h.monitor("www/web2").up(1)  # nothing to add it to: no crash
            await lvsd.reload()
            assert h.weights(KEY) == {WEB1: 3, WEB2: 1}

    asyncio.run(main())


def test_lvsadm_op_lists_and_edits(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www()) as h:
            lvsd = h.lvsd
            await h.monitor("www/web1").up(3)
            out = await lvsd.lvsadm(["-S", "-n"], "", "lvsadm")
            assert out == {
                "exit_code": 0,
                "stdout": "-A -t 192.168.0.1:80 -s wlc\n-a -t 192.168.0.1:80 -r 10.0.0.2:80 -m -w 3\n",
                "stderr": "",
                "changed": False,
            }
            before = h.backend.converges
            out = await lvsd.lvsadm(
                ["-e", "-t", "192.168.0.1:80", "-r", "10.0.0.2", "-m", "-w", "9"], "", "lvsadm"
            )
            assert out["exit_code"] == 0
            assert h.backend.converges == before + 1
            assert h.backend.programmed[-1][KEY] == {WEB1: 9}
            out = await lvsd.lvsadm(["-d", "-t", "10.9.9.9:80", "-r", "1.1.1.1"], "", "lvsadm")
            assert (out["exit_code"], out["stderr"]) == (255, "Service not defined\n")

    asyncio.run(main())


def test_standby_then_activate(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www(), standby=True) as h:
            lvsd = h.lvsd
            # the standby's data plane follows the checks before its VIPs arrive,
            # so a takeover programs nothing
            assert lvsd.state == "standby" and h.backend.started
            assert h.backend.options.freebind  # it listens on VIPs it does not hold yet
            await h.monitor("www/web1").up(3)
            await lvsd.converger.idle()
            assert h.backend.programmed[-1] == {KEY: {WEB1: 3}}
            assert h.weights(KEY) == {WEB1: 3}
            assert lvsd.status()["state"] == "standby"
            converges = h.backend.converges
            assert await lvsd.activate() == {"state": "active", "changed": True}
            assert h.backend.converges == converges  # nothing left to program
            await h.monitor("www/web1").down()
            await lvsd.converger.idle()
            assert h.backend.programmed[-1] == {KEY: {}}
            assert await lvsd.activate() == {"state": "active", "changed": False}

    asyncio.run(main())


def test_monitor_death_with_hard_shutdown_stops_lvsd(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www(), start=False) as h:
            lvsd = h.lvsd
            original = lvsd.monitor_factory

            def crashing(spec, actions, log):  # type: ignore[no-untyped-def]
                monitor = original(spec, actions, log)
                if spec.label == "www/web2":
                    monitor.crash = ZeroDivisionError("bug")
                return monitor

            lvsd.monitor_factory = crashing
            assert await lvsd.start()
            await asyncio.wait_for(lvsd._stop.wait(), 5)
            assert lvsd.exit_code == 1
            assert any(
                line.startswith("nanny for child www/web2 died! shutting down lvs")
                for line in h.log.lines
            )

    asyncio.run(main())


def test_monitor_death_without_hard_shutdown_restarts_it(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www(globals_="hard_shutdown = 0"), start=False) as h:
            lvsd = h.lvsd
            original = lvsd.monitor_factory
            crashes = [ZeroDivisionError("bug")]

            def crashing(spec, actions, log):  # type: ignore[no-untyped-def]
                monitor = original(spec, actions, log)
                if spec.label == "www/web2" and crashes:
                    monitor.crash = crashes.pop()
                return monitor

            lvsd.monitor_factory = crashing
            assert await lvsd.start()
            for _ in range(100):
                if len([m for m in h.monitors if m.spec.label == "www/web2"]) == 2:
                    break
                await asyncio.sleep(0.05)
            assert len([m for m in h.monitors if m.spec.label == "www/web2"]) == 2
            assert not lvsd._stop.is_set()
            assert any(
                "nanny for child www/web2 died! restarting it" in line for line in h.log.lines
            )

    asyncio.run(main())


def test_a_service_the_data_plane_refuses_is_reported_and_retried(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www(), start=False) as h:
            lvsd = h.lvsd
            assert await lvsd.start()
            h.backend.fail[KEY] = "cannot listen on 192.168.0.1:80: address not local"
            await h.monitor("www/web1").up(3)
            await h.settle()
            assert lvsd.states[KEY].failure == "cannot listen on 192.168.0.1:80: address not local"
            assert (
                "data plane failed for virtual server www: cannot listen on 192.168.0.1:80: address not local"
                in h.log.lines
            )
            assert any("cannot listen" in w for w in lvsd.status()["warnings"])
            h.backend.fail.clear()
            lvsd._next_retry = 0.0
            await lvsd.tick()
            await h.settle()
            assert lvsd.states[KEY].failure is None
            assert "virtual server www is programmed now" in h.log.lines

    asyncio.run(main())


def test_autoreload(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www(globals_="autoreload = 1")) as h:
            lvsd = h.lvsd
            h.write(www(globals_="autoreload = 1", extra="scheduler = rr"))
            lvsd._next_watch = 0.0
            await lvsd.tick()
            assert lvsd.table.get(KEY).scheduler_name == "rr"
            assert f"{h.path} changed" in h.log.lines
            lvsd._next_watch = 0.0
            await lvsd.tick()  # nothing changed since: no second reload
            assert h.log.lines.count("rereading configuration file") == 1

    asyncio.run(main())


def test_history_samples(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www()) as h:
            lvsd = h.lvsd
            await h.monitor("www/web1").up(3)
            lvsd._next_estimate = 0.0
            await lvsd.tick()
            view = lvsd.history.view(600, lvsd.wall())
            assert view["interval"] == 2.0
            sample = view["samples"][-1]
            assert set(sample["services"]) == {"tcp:192.168.0.1:80"}
            assert set(sample["dests"]) == {"tcp:192.168.0.1:80|10.0.0.2:80"}

    asyncio.run(main())


def test_reload_adds_and_removes_services_and_follows_network(tmp_path: Path) -> None:
    mail = virtual("mail", "192.168.0.2", server("mx", "10.0.0.5"), port=25)
    mail_key = ServiceKey.tcp("192.168.0.2", 25)

    async def main() -> None:
        async with running(tmp_path, www()) as h:
            lvsd = h.lvsd
            await h.monitor("www/web1").up(3)
            h.write(
                config_text(
                    mail,
                    virtual("www", "192.168.0.1", server("web1", "10.0.0.2", weight=3)),
                    globals_="network = direct",
                )
            )
            await lvsd.reload()
            assert set(lvsd.states) == {KEY, mail_key}
            assert lvsd.table.get(KEY).find(*WEB1).forward is Forward.ROUTE
            assert "starting virtual service mail active: 25" in h.log.lines
            await h.monitor("mail/mx").up(1)
            assert h.weights(mail_key) == {("10.0.0.5", 25): 1}
            # web2 left and comes back before its drain ended: the same slot, a new check
            h.write(www())
            await lvsd.reload()
            assert mail_key not in lvsd.table.services
            assert "shutting down virtual service mail" in h.log.lines
            assert lvsd.table.get(KEY).find(*WEB1).forward is Forward.MASQ
            assert h.monitor("www/web2").spec.label == "www/web2"

    asyncio.run(main())


def test_a_server_back_before_its_drain_ended_keeps_its_connections(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www()) as h:
            lvsd = h.lvsd
            await h.monitor("www/web1").up(3)
            service = lvsd.table.get(KEY)
            conn = lvsd.table.connections.schedule(
                service, 6, "1.2.3.4", 9, "192.168.0.1", 80, lvsd.now()
            )
            assert conn is not None and conn.daddr == "10.0.0.2"
            h.write(www(servers=(server("web2", "10.0.0.3"),)))
            await lvsd.reload()
            assert h.weights(KEY) == {WEB1: 0}, "draining: its connection goes on"
            h.write(www())
            await lvsd.reload()
            slot = lvsd.states[KEY].slots[WEB1]
            assert not slot.leaving and not slot.draining
            assert h.weights(KEY) == {WEB1: 0}, "no new clients before its new check passed"
            await h.monitor("www/web1").up(3)
            assert h.weights(KEY) == {WEB1: 3}
            assert conn in lvsd.table.connections.entries()

    asyncio.run(main())
