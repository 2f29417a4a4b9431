"""IPVSBackend's converge and refresh against an in-memory IPVS that speaks the same attributes."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from piranha.dataplane.ipvs import backend as ipvs_backend
from piranha.dataplane.ipvs import messages as m
from piranha.table.model import Forward, ServiceKey, SyncDaemon, VirtualTable


class FakeIPVS:
    """The kernel side: keeps services and dests from the messages it is sent."""

    def __init__(self, family: str, version: int) -> None:
        assert (family, version) == ("IPVS", 1)
        self.services: dict[bytes, dict] = {}
        self.log: list[int] = []
        self.daemons: dict[int, tuple[str, int]] = {}

    def close(self) -> None:
        pass

    @staticmethod
    def _svc_id(svc: dict) -> bytes:
        return bytes(svc.get(m.SVC_ATTR_FWMARK, b"")) + bytes(svc.get(m.SVC_ATTR_ADDR, b"")) + bytes(svc.get(m.SVC_ATTR_PORT, b"")) + bytes(svc.get(m.SVC_ATTR_PROTOCOL, b""))

    def request(self, cmd: int, payload: bytes = b"", *, dump: bool = False):
        self.log.append(cmd)
        top = m.parse(payload)
        svc = m.parse(top[m.CMD_ATTR_SERVICE]) if m.CMD_ATTR_SERVICE in top else {}
        sid = self._svc_id(svc)
        if cmd == m.CMD_FLUSH:
            self.services.clear()
        elif cmd in (m.CMD_NEW_SERVICE, m.CMD_SET_SERVICE):
            entry = self.services.setdefault(sid, {"dests": {}})
            entry["svc"] = bytes(top[m.CMD_ATTR_SERVICE])
        elif cmd == m.CMD_DEL_SERVICE:
            del self.services[sid]
        elif cmd in (m.CMD_NEW_DEST, m.CMD_SET_DEST, m.CMD_DEL_DEST):
            dest = m.parse(top[m.CMD_ATTR_DEST])
            did = bytes(dest[m.DEST_ATTR_ADDR]) + bytes(dest[m.DEST_ATTR_PORT])
            dests = self.services[sid]["dests"]
            if cmd == m.CMD_DEL_DEST:
                del dests[did]
            else:
                dests[did] = bytes(top[m.CMD_ATTR_DEST])
        elif cmd == m.CMD_GET_SERVICE:
            stats = m.nested(m.SVC_ATTR_STATS64, *(m.attr(i, struct.pack("=Q", 100 * i)) for i in range(1, 11)))
            return [m.parse(m.attr(m.CMD_ATTR_SERVICE | m.NLA_F_NESTED, e["svc"] + stats)) for e in self.services.values()]
        elif cmd == m.CMD_GET_DEST:
            out = []
            for raw in self.services[sid]["dests"].values():
                counts = m.u32(m.DEST_ATTR_ACTIVE_CONNS, 3) + m.u32(m.DEST_ATTR_INACT_CONNS, 4)
                out.append(m.parse(m.attr(m.CMD_ATTR_DEST | m.NLA_F_NESTED, raw + counts)))
            return out
        elif cmd == m.CMD_GET_DAEMON:
            return [m.parse(m.daemon_attr(s, i, n)) for s, (i, n) in self.daemons.items()]
        elif cmd == m.CMD_NEW_DAEMON:
            state, ifn, syncid = m.decode_daemon(top)
            self.daemons[state] = (ifn, syncid)
        elif cmd == m.CMD_DEL_DAEMON:
            self.daemons.pop(m.decode_daemon(top)[0], None)
        return []


@pytest.fixture
def fake(monkeypatch):
    made = []

    def factory(*args):
        made.append(FakeIPVS(*args))
        return made[-1]

    monkeypatch.setattr(ipvs_backend, "GenlSocket", factory)
    monkeypatch.setattr(ipvs_backend.sysctl, "set_value", lambda name, value: None)
    return made


def test_converge_programs_the_table_and_then_only_its_changes(fake):
    async def scenario():
        table = VirtualTable()
        key = ServiceKey.tcp("192.168.0.100", 80)
        table.add_service(key, "wlc", persistent=300)
        table.add_dest(key, "10.0.0.1", 80, forward=Forward.MASQ)
        table.add_dest(key, "10.0.0.2", 80, forward=Forward.MASQ, weight=2)
        table.daemons["master"] = SyncDaemon("master", "eth1", 7)
        backend = ipvs_backend.IPVSBackend(table)
        await backend.start()
        ipvs = fake[0]
        assert ipvs.log == [m.CMD_FLUSH]
        await backend.converge()
        (entry,) = ipvs.services.values()
        assert len(entry["dests"]) == 2
        assert m.decode_service(m.parse(m.attr(m.CMD_ATTR_SERVICE, entry["svc"]))).timeout == 300
        assert ipvs.daemons == {m.STATE_MASTER: ("eth1", 7)}
        ipvs.log.clear()
        table.edit_dest(key, "10.0.0.1", 80, weight=5)
        await backend.converge()
        assert [c for c in ipvs.log if c not in (m.CMD_GET_SERVICE, m.CMD_GET_DEST, m.CMD_GET_DAEMON)] == [m.CMD_SET_DEST, m.CMD_SET_CONFIG]
        await backend.refresh(0.0)
        svc = table.services[key]
        assert svc.stats.conns == 100 and svc.stats.outbytes == 500 and svc.rates.cps == 600
        assert [(d.activeconns, d.inactconns) for d in svc.destinations] == [(3, 4), (3, 4)]
        await backend.refresh(1.0)
        assert svc.stats.conns == 100  # growth only: nothing new
        table.delete_service(key)
        await backend.converge()
        assert ipvs.services == {}
        await backend.stop()

    asyncio.run(scenario())


def test_address_layout_is_the_kernels_union():
    assert m.inet_addr("10.1.2.3") == socket.inet_aton("10.1.2.3") + bytes(12)


def test_sync_daemons_started_elsewhere_are_left_running(fake):
    """pulse's `syncdaemon` starts the kernel's sync daemon itself: a converge that
    has no daemon in its table must not stop it (connection sync would end)."""

    async def scenario():
        table = VirtualTable()
        backend = ipvs_backend.IPVSBackend(table)
        await backend.start()
        ipvs = fake[0]
        ipvs.daemons[m.STATE_MASTER] = ("eth1", 3)  # started by pulse
        await backend.converge()
        assert ipvs.daemons == {m.STATE_MASTER: ("eth1", 3)}
        # lvsadm --start-daemon backup: started, and stopped again when it leaves the table
        table.daemons["backup"] = SyncDaemon("backup", "eth2", 4)
        await backend.converge()
        assert ipvs.daemons == {m.STATE_MASTER: ("eth1", 3), m.STATE_BACKUP: ("eth2", 4)}
        del table.daemons["backup"]
        await backend.converge()
        assert ipvs.daemons == {m.STATE_MASTER: ("eth1", 3)}

    asyncio.run(scenario())

