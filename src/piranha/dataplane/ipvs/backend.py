"""The IPVS data plane: the table programmed into the kernel's own IP Virtual Server.

What Piranha did with ``ipvsadm`` commands, done over IPVS's generic
netlink family (the messages of :mod:`.messages`): every converge reads
the kernel's services and real servers back and sends only the
differences (``IPVS_CMD_NEW/SET/DEL_SERVICE``, ``…_DEST``), then the
timeouts (``IPVS_CMD_SET_CONFIG``), the sync daemons for ``syncdaemon``
(``IPVS_CMD_NEW/DEL_DAEMON``) and the sysctls ``expire_nodest_conn`` and
``expire_quiescent_template``.  The kernel schedules, keeps connections
and rates; refresh reads them back (counters as growth since the last
read, so ``lvsadm -Z`` keeps working; connections from
/proc/net/ip_vs_conn).

IPVS has no transactions: a converge adds services first, then edits and
adds real servers, and deletes last, so no moment has fewer servers than
either the old or the new table.  Where this runs: only on kernels with
``CONFIG_IP_VS`` (``/proc/net/ip_vs`` exists); see docs/dataplane-ipvs.md.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from piranha.dataplane.base import Backend, BackendError
from piranha.dataplane.kernel import sysctl
from piranha.dataplane.kernel.mirror import KernelConnections
from piranha.table.model import (
    IPPROTO_IP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    Connection,
    Destination,
    Rates,
    Service,
    ServiceKey,
)

from . import messages as m
from .genl import GenlError, GenlSocket

PROC_IP_VS = "/proc/net/ip_vs"
PROC_IP_VS_CONN = "/proc/net/ip_vs_conn"


class IPVSBackend(Backend):
    name = "ipvs"
    proc_path = PROC_IP_VS

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if not Path(cls.proc_path).exists():
            return (
                f"the kernel has no IPVS ({cls.proc_path} is missing: CONFIG_IP_VS not built, "
                "or the ip_vs module not loaded)"
            )
        if os.geteuid() != 0:
            return "needs root (CAP_NET_ADMIN) to program IPVS"
        return None

    def __init__(self, table, options=None, *, log=None) -> None:
        super().__init__(table, options, log=log)
        self.mirror = KernelConnections(table)
        self._genl: GenlSocket | None = None
        # sync daemons this backend started (from lvsadm --start-daemon): the only ones it
        # stops; pulse's `syncdaemon` starts and stops its own, which stay untouched
        self._own_daemons: dict[int, tuple[str, int]] = {}
        self._seen: dict[tuple, tuple[int, ...]] = {}
        self._lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        try:
            self._genl = await asyncio.to_thread(GenlSocket, m.IPVS_GENL_NAME, m.IPVS_GENL_VERSION)
        except (OSError, GenlError) as exc:
            raise RuntimeError(f"cannot talk to IPVS: {exc}") from exc
        # as the original lvsd (`ipvsadm -C`): start from an empty table
        await self._call(m.CMD_FLUSH)
        self.table.connections = self.mirror

    async def stop(self) -> None:
        async with self._lock:
            if self._genl is None:
                return
            for svc in list(self.table.services.values()):
                try:
                    await self._call(m.CMD_DEL_SERVICE, m.nested(m.CMD_ATTR_SERVICE, *m.service_id_attrs(svc.key)))
                except GenlError as exc:
                    self.log.warning("could not remove %s from IPVS: %s", svc.key, exc)
            self._genl.close()
            self._genl = None

    async def _call(self, cmd: int, payload: bytes = b"", *, dump: bool = False) -> list[dict]:
        assert self._genl is not None
        return await asyncio.to_thread(self._genl.request, cmd, payload, dump=dump)

    # -- converge ---------------------------------------------------------------

    async def converge(self) -> None:
        async with self._lock:
            kernel = await self._read_kernel()
            failed: dict[ServiceKey, str] = {}
            for cmd, payload, key in plan_commands(self.table.services, kernel):
                try:
                    await self._call(cmd, payload)
                except GenlError as exc:
                    failed.setdefault(key, f"IPVS refused it: {exc}")
            await self._converge_settings(failed)
            if failed:
                raise BackendError(failed)

    async def _read_kernel(self) -> dict[ServiceKey, tuple[m.KernelService, dict[tuple[str, int], m.KernelDest]]]:
        out = {}
        for attrs in await self._call(m.CMD_GET_SERVICE, dump=True):
            ksvc = m.decode_service(attrs)
            dests = {}
            svc_id = m.nested(m.CMD_ATTR_SERVICE, *m.service_id_attrs(ksvc.key))
            for dattrs in await self._call(m.CMD_GET_DEST, svc_id, dump=True):
                kd = m.decode_dest(dattrs)
                dests[(kd.address, kd.port)] = kd
            out[ksvc.key] = (ksvc, dests)
        return out

    async def _converge_settings(self, failed: dict[ServiceKey, str]) -> None:
        t = self.table.timeouts
        try:
            await self._call(m.CMD_SET_CONFIG, m.timeouts_attrs(t.tcp, t.tcpfin, t.udp))
        except GenlError as exc:
            self.log.warning("IPVS refused the timeouts %s %s %s: %s", t.tcp, t.tcpfin, t.udp, exc)
        for name in ("expire_nodest_conn", "expire_quiescent_template"):
            try:
                sysctl.set_value(f"net.ipv4.vs.{name}", "1" if getattr(self.table, name) else "0")
            except OSError as exc:
                self.log.warning("cannot set net.ipv4.vs.%s: %s", name, exc)
        running = {}
        for attrs in await self._call(m.CMD_GET_DAEMON, dump=True):
            state, ifn, syncid = m.decode_daemon(attrs)
            running[state] = (ifn, syncid)
        wanted = {
            (m.STATE_MASTER if d.state == "master" else m.STATE_BACKUP): (d.mcast_interface, d.syncid)
            for d in self.table.daemons.values()
        }
        for state, (ifn, syncid) in running.items():
            if self._own_daemons.get(state) == (ifn, syncid) and wanted.get(state) != (ifn, syncid):
                await self._call(m.CMD_DEL_DAEMON, m.daemon_attr(state, ifn, syncid))
                del self._own_daemons[state]
        for state, (ifn, syncid) in wanted.items():
            if running.get(state) != (ifn, syncid):
                try:
                    if state in running:  # another daemon in this role (pulse's): replaced
                        await self._call(m.CMD_DEL_DAEMON, m.daemon_attr(state, *running[state]))
                    await self._call(m.CMD_NEW_DAEMON, m.daemon_attr(state, ifn, syncid))
                    self._own_daemons[state] = (ifn, syncid)
                except GenlError as exc:
                    self.log.warning("IPVS refused the %s sync daemon on %s: %s",
                                     "master" if state == m.STATE_MASTER else "backup", ifn, exc)

    # -- refresh ----------------------------------------------------------------

    async def refresh(self, now: float) -> None:
        async with self._lock:
            if self._genl is None:
                return
            kernel = await self._read_kernel()
            for key, svc in self.table.services.items():
                if key not in kernel:
                    continue
                ksvc, kdests = kernel[key]
                self._account(("svc", key), ksvc.stats, svc)
                for dest in svc.destinations:
                    kd = kdests.get((dest.address, dest.port))
                    if kd is None:
                        continue
                    dest.activeconns, dest.inactconns, dest.persistconns = kd.activeconns, kd.inactconns, kd.persistconns
                    self._account(("dest", key, dest.address, dest.port), kd.stats, dest)
            entries = await asyncio.to_thread(read_connections, self.table.services, now)
            self.mirror.replace(entries)

    def _account(self, ident: tuple, ks: m.KernelStats, owner: Service | Destination) -> None:
        now = (ks.conns, ks.inpkts, ks.outpkts, ks.inbytes, ks.outbytes)
        before = self._seen.get(ident, (0, 0, 0, 0, 0))
        if any(a < b for a, b in zip(now, before, strict=True)):
            before = (0, 0, 0, 0, 0)
        self._seen[ident] = now
        d = [a - b for a, b in zip(now, before, strict=True)]
        s = owner.stats
        s.conns += d[0]
        s.inpkts += d[1]
        s.outpkts += d[2]
        s.inbytes += d[3]
        s.outbytes += d[4]
        owner.rates = Rates(ks.cps, ks.inpps, ks.outpps, ks.inbps, ks.outbps)


def plan_commands(services: dict[ServiceKey, Service], kernel: dict) -> list[tuple[int, bytes, ServiceKey]]:
    """The commands that make the kernel's table ours: adds, edits, then deletes."""
    adds, edits, deletes = [], [], []
    for key, svc in services.items():
        present = kernel.get(key)
        if present is None:
            adds.append((m.CMD_NEW_SERVICE, m.service_attr(svc), key))
            for dest in reversed(svc.destinations):  # the kernel adds at the head: same list order
                adds.append((m.CMD_NEW_DEST, m.service_attr(svc) + m.dest_attr(dest), key))
            continue
        ksvc, kdests = present
        netmask = svc.netmask if svc.persistent else "255.255.255.255"
        if (ksvc.scheduler, ksvc.flags, ksvc.timeout, ksvc.netmask) != (
            svc.scheduler_name,
            m.service_flags(svc),
            svc.persistent,
            netmask,
        ):
            edits.append((m.CMD_SET_SERVICE, m.service_attr(svc), key))
        wanted = {(d.address, d.port): d for d in svc.destinations}
        for dkey, dest in reversed(list(wanted.items())):
            kd = kdests.get(dkey)
            if kd is None:
                adds.append((m.CMD_NEW_DEST, m.service_attr(svc) + m.dest_attr(dest), key))
            elif (kd.forward, kd.weight, kd.u_threshold, kd.l_threshold) != (
                dest.forward,
                dest.weight,
                dest.u_threshold,
                dest.l_threshold,
            ):
                edits.append((m.CMD_SET_DEST, m.service_attr(svc) + m.dest_attr(dest), key))
        for dkey, kd in kdests.items():
            if dkey not in wanted:
                gone = Destination(kd.address, kd.port, forward=kd.forward)
                deletes.append((m.CMD_DEL_DEST, m.service_attr(svc) + m.dest_attr(gone), key))
    for key in kernel:
        if key not in services:
            deletes.append((m.CMD_DEL_SERVICE, m.nested(m.CMD_ATTR_SERVICE, *m.service_id_attrs(key)), key))
    return adds + edits + deletes


def read_connections(services: dict[ServiceKey, Service], now: float, path: str = PROC_IP_VS_CONN) -> list[Connection]:
    """/proc/net/ip_vs_conn as Connection entries (hex addresses and ports)."""
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            lines = fh.read().splitlines()[1:]
    except OSError:
        return []
    protocols = {"TCP": IPPROTO_TCP, "UDP": IPPROTO_UDP, "IP": IPPROTO_IP}
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) < 9:
            continue
        proto = protocols.get(parts[0])
        if proto is None:
            continue

        def addr(hexa: str) -> str:
            return socket.inet_ntoa(bytes.fromhex(hexa.rjust(8, "0")[-8:]))

        conn = Connection(
            protocol=proto,
            caddr=addr(parts[1]),
            cport=int(parts[2], 16),
            vaddr=addr(parts[3]),
            vport=int(parts[4], 16),
            daddr=addr(parts[5]),
            dport=int(parts[6], 16),
            state=parts[7],
            expires=now + int(parts[8]),
            template=(parts[2] == "0000" and parts[7] in ("NONE", "UDP") and proto != IPPROTO_TCP) or parts[2] == "0000",
        )
        out.append(conn)
    return out
