"""The proxy in its own process (use_uvloop): lvsd's table is kept in step both ways."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from piranha.dataplane.base import BackendError, BackendOptions
from piranha.dataplane.userspace import UserspaceBackend, sync
from piranha.dataplane.userspace.sync import Mirror, MirroredConnections
from piranha.table.ipvsadm import run
from piranha.table.model import IPPROTO_TCP, MarkMatch, ServiceKey, TableError, VirtualTable

from .helpers import RealServer, add_service, connect, dest, eventually, free_port, loopback, who

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"  # lvsd's own loop is always the stdlib one; the worker runs uvloop


async def _servers(n):
    return [await RealServer(f"rs{i + 1}").start() for i in range(n)]


async def _close(servers):
    for s in servers:
        await s.close()


async def _worker_backend(table, **extra) -> UserspaceBackend:
    options = BackendOptions(use_uvloop=True, extra={f"userspace.{k}": str(v) for k, v in extra.items()})
    backend = UserspaceBackend(table, options)
    await backend.start()
    return backend


async def test_the_worker_serves_and_lvsds_table_sees_it(anyio_backend):
    servers = await _servers(3)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    svc = add_service(table, key, "rr", servers)
    backend = await _worker_backend(table)
    try:
        pid = backend._worker.pid
        assert pid is not None and pid != os.getpid()
        assert backend.describe() == f"userspace (worker process {pid}, uvloop)"
        await backend.converge()
        assert [await who(vip, key.port) for _ in range(6)] == ["rs1", "rs2", "rs3"] * 2
        reader, writer = await connect(vip, key.port)
        assert await reader.readline() == b"rs1\n"
        await asyncio.sleep(0.6)  # the worker's housekeeping hands counters to its table
        await backend.refresh(time.monotonic())
        rs1 = dest(svc, servers[0])
        assert (rs1.activeconns, rs1.inactconns) == (1, 2)  # one open, two lingering
        assert rs1.stats.conns == 3
        assert svc.stats.conns == 7
        assert svc.stats.outbytes == 7 * 4
        # the connection list comes from the worker when asked for
        listing = run(table, ["-L", "-n", "-c"], now=time.monotonic()).stdout.splitlines()
        states = sorted(line.split()[2] for line in listing[2:])
        assert states == ["ESTABLISHED"] + ["TIME_WAIT"] * 6
        writer.close()
    finally:
        await backend.stop()
        await _close(servers)
    assert isinstance(table.connections, MirroredConnections)
    with pytest.raises(ConnectionRefusedError):
        await connect(vip, key.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_changes_and_failures_cross_to_the_worker(anyio_backend):
    servers = await _servers(3)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    add_service(table, key, "rr", servers[:1])
    add_service(table, ServiceKey.tcp("192.0.2.20", 80), "rr", servers[:1])
    backend = await _worker_backend(table)
    try:
        with pytest.raises(BackendError) as failure:
            await backend.converge()
        assert list(failure.value.failed) == [ServiceKey.tcp("192.0.2.20", 80)]
        assert "address not local" in str(failure.value)
        table.delete_service(ServiceKey.tcp("192.0.2.20", 80))
        # two servers added (they go to the head of the list, as in the kernel)
        table.add_dest(key, servers[1].address, servers[1].port)
        table.add_dest(key, servers[2].address, servers[2].port)
        await backend.converge()
        order = [d.address for d in table.services[key].destinations]
        assert order == [servers[2].address, servers[1].address, servers[0].address]
        assert {await who(vip, key.port) for _ in range(3)} == {"rs1", "rs2", "rs3"}
        table.edit_dest(key, servers[0].address, servers[0].port, weight=0)
        table.delete_dest(key, servers[1].address, servers[1].port)
        await backend.converge()
        assert {await who(vip, key.port) for _ in range(4)} == {"rs3"}
        table.delete_service(key)
        await backend.converge()
        with pytest.raises(ConnectionRefusedError):
            await connect(vip, key.port)
    finally:
        await backend.stop()
        await _close(servers)


async def test_a_dead_worker_is_restarted_and_reprogrammed(anyio_backend, caplog):
    servers = await _servers(1)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    add_service(table, key, "rr", servers)
    log = logging.getLogger("test.userspace.worker")
    backend = UserspaceBackend(table, BackendOptions(use_uvloop=True), log=log)
    await backend.start()
    try:
        await backend.converge()
        first = backend._worker.pid
        with caplog.at_level(logging.INFO, logger="test.userspace.worker"):
            os.kill(first, signal.SIGKILL)
            await eventually(
                lambda: backend._worker.pid not in (None, first) and "restarted" in caplog.text,
                timeout=15, what="a new worker",
            )
        assert f"worker {first} exited (status -9); its connections are lost" in caplog.text
        assert await who(vip, key.port) == "rs1"
    finally:
        await backend.stop()
        await _close(servers)


async def test_zeroing_lvsds_counters_keeps_counting(anyio_backend):
    servers = await _servers(1)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    svc = add_service(table, key, "rr", servers)
    backend = await _worker_backend(table)
    try:
        await backend.converge()
        for _ in range(2):
            await who(vip, key.port)
        await backend.refresh(time.monotonic())
        assert svc.stats.conns == 2
        table.zero()  # lvsadm -Z: lvsd's side only
        await backend.refresh(time.monotonic())
        assert svc.stats.conns == 0
        await who(vip, key.port)
        await backend.refresh(time.monotonic())
        assert svc.stats.conns == 1
        assert dest(svc, servers[0]).stats.conns == 1
    finally:
        await backend.stop()
        await _close(servers)


def test_mirror_adds_differences_and_survives_restarts():
    table = VirtualTable()
    key = ServiceKey.tcp("10.0.0.1", 80)
    svc = table.add_service(key, "rr")
    table.add_dest(key, "10.0.0.2", 80)
    mirror = Mirror(table)

    def snap(generation, conns, counts=(1, 2, 0, False)):
        stats = (conns, conns * 2, conns * 3, conns * 10, conns * 20)
        return {
            "services": {(6, "10.0.0.1", 80, 0): (generation, stats,
                                                  {("10.0.0.2", 80): (generation, counts, stats)})},
            "trash": {},
            "counters": {},
        }

    mirror.apply(snap(1, 5))
    assert svc.stats.conns == 5 and svc.destinations[0].stats.inbytes == 50
    assert (svc.destinations[0].activeconns, svc.destinations[0].inactconns) == (1, 2)
    mirror.apply(snap(1, 8))
    assert svc.stats.conns == 8
    mirror.apply(snap(2, 3))  # a new worker (or a re-created service) counts from zero
    assert svc.stats.conns == 11
    assert svc.destinations[0].stats.outbytes == 11 * 20


# -- the table sync, without processes -------------------------------------------

_KEYS = [ServiceKey.tcp("10.0.0.1", 80), ServiceKey.udp("10.0.0.1", 53), ServiceKey.mark(7)]
_ADDRS = [f"10.1.0.{n}" for n in range(1, 6)]

_ops = st.one_of(
    st.tuples(st.just("add_service"), st.sampled_from(_KEYS), st.sampled_from(["rr", "wlc", "sh"]),
              st.sampled_from([0, 300])),
    st.tuples(st.just("edit_service"), st.sampled_from(_KEYS), st.sampled_from(["wrr", "lc"]),
              st.sampled_from([0, 60])),
    st.tuples(st.just("delete_service"), st.sampled_from(_KEYS)),
    st.tuples(st.just("add_dest"), st.sampled_from(_KEYS), st.sampled_from(_ADDRS), st.integers(0, 5)),
    st.tuples(st.just("edit_dest"), st.sampled_from(_KEYS), st.sampled_from(_ADDRS), st.integers(0, 5)),
    st.tuples(st.just("delete_dest"), st.sampled_from(_KEYS), st.sampled_from(_ADDRS)),
    st.tuples(st.just("converge")),
)


def _do(table, op):
    name, *args = op
    try:
        if name == "add_service":
            key, scheduler, persistent = args
            svc = table.add_service(key, scheduler, persistent=persistent)
            if key.is_fwmark:
                svc.match = (MarkMatch(IPPROTO_TCP, "10.0.0.1", 80, 81),)
        elif name == "edit_service":
            key, scheduler, persistent = args
            table.edit_service(key, scheduler, persistent=persistent)
        elif name == "delete_service":
            table.delete_service(args[0])
        elif name == "add_dest":
            key, address, weight = args
            table.add_dest(key, address, 80, weight=weight, u_threshold=weight * 10)
        elif name == "edit_dest":
            key, address, weight = args
            table.edit_dest(key, address, 80, weight=weight)
        elif name == "delete_dest":
            table.delete_dest(args[0], args[1], 80)
    except TableError:
        pass  # what the kernel would refuse, refused here too


_UDP53, _TCP80 = ServiceKey(17, "10.0.0.1", 53), ServiceKey(6, "10.0.0.1", 80)


@settings(max_examples=60, deadline=None)
@given(st.lists(_ops, max_size=30))
@example(  # a service deleted and added again between two converges moves to the end
    [("add_service", _UDP53, "rr", 0), ("add_service", _TCP80, "rr", 0), ("converge",),
     ("delete_service", _UDP53), ("add_service", _UDP53, "rr", 0)]
)  # fmt: skip
def test_the_workers_table_follows_any_history(ops):
    lvsd, worker = VirtualTable(), VirtualTable()
    for op in [*ops, ("converge",)]:
        if op[0] == "converge":
            sync.apply(worker, sync.describe(lvsd))
            assert sync.describe(worker) == sync.describe(lvsd)
        else:
            _do(lvsd, op)
