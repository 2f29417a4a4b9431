"""What the table (and so lvsadm) sees: states, ActiveConn/InActConn, counters, expiry."""

from __future__ import annotations

import asyncio
import time

import pytest

from piranha.table.ipvsadm import run
from piranha.table.model import ServiceKey, VirtualTable

from .helpers import (
    RealServer,
    add_service,
    connect,
    dest,
    eventually,
    free_port,
    loopback,
    running_proxy,
)

pytestmark = pytest.mark.anyio


async def _one(**options):
    server = await RealServer("rs1").start()
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    svc = add_service(table, key, "rr", [server], **options)
    return server, table, key, svc


def _entry(table):
    entries = [e for e in table.connections.entries() if not e.template]
    assert len(entries) == 1, entries
    return entries[0]


def _lvsadm_c(table) -> list[str]:
    result = run(table, ["-L", "-n", "-c"], now=time.monotonic())
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()


async def test_states_and_counts_through_a_server_first_close(anyio_backend):
    closing = asyncio.Event()

    async def answer_then_close(reader, writer):
        writer.write(b"hello\n")
        await closing.wait()
        writer.write_eof()  # the real server ends first (HTTP/1.0 style)
        await reader.read()

    server, table, key, svc = await _one()
    server.on_connect = answer_then_close
    rs = dest(svc, server)
    async with running_proxy(table) as backend:
        reader, writer = await connect(key.address, key.port)
        assert await asyncio.wait_for(reader.readline(), 5) == b"hello\n"
        entry = _entry(table)
        assert (entry.state, rs.activeconns, rs.inactconns) == ("ESTABLISHED", 1, 0)
        caddr, cport = writer.get_extra_info("sockname")
        fields = _lvsadm_c(table)[2].split()
        assert fields[1] in ("15:00", "14:59")  # the tcp timeout, 900 s
        assert fields[:1] + fields[2:] == [
            "TCP", "ESTABLISHED", f"{caddr}:{cport}", f"{key.address}:{key.port}",
            f"{server.address}:{server.port}",
        ]
        closing.set()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the server's FIN, passed on
        await eventually(lambda: entry.state == "FIN_WAIT", what="FIN_WAIT")
        assert (rs.activeconns, rs.inactconns) == (0, 1)
        assert entry.timeout == table.timeouts.tcpfin
        writer.close()  # our FIN: both ends closed
        await eventually(lambda: entry.state == "TIME_WAIT", what="TIME_WAIT")
        await eventually(lambda: not backend._engine.open, what="connection released")
        # the entry lingers for its TIME_WAIT timer, counted inactive, as in IPVS
        assert _entry(table) is entry
        assert (rs.activeconns, rs.inactconns) == (0, 1)
        assert _lvsadm_c(table)[2].split()[1:3] in (["02:00", "TIME_WAIT"], ["01:59", "TIME_WAIT"])
        await backend.refresh(time.monotonic())
        assert rs.stats.conns == 1
        assert rs.stats.outbytes == len(b"hello\n")
        assert rs.stats.outpkts >= 1
    await server.close()


async def test_client_first_close_is_close_wait(anyio_backend):
    server, table, key, svc = await _one()
    async with running_proxy(table) as backend:
        reader, writer = await connect(key.address, key.port)
        assert await asyncio.wait_for(reader.readline(), 5) == b"rs1\n"
        entry = _entry(table)
        server.on_connect = None
        writer.write(b"abc")
        writer.write_eof()
        # the echo server answers our EOF with its own: CLOSE_WAIT then TIME_WAIT
        assert await asyncio.wait_for(reader.read(), 5) == b"abc"
        writer.close()
        await eventually(lambda: entry.state == "TIME_WAIT", what="TIME_WAIT")
        await eventually(lambda: not backend._engine.open, what="released")
        await backend.refresh(time.monotonic())
        rs = dest(svc, server)
        assert rs.stats.inbytes == 3
        assert rs.stats.outbytes == len(b"rs1\nabc")
    await server.close()


async def test_counters_reach_the_table_while_the_connection_is_open(anyio_backend):
    server, table, key, svc = await _one()
    async with running_proxy(table) as backend:
        reader, writer = await connect(key.address, key.port)
        await reader.readline()
        for _ in range(5):
            writer.write(b"x" * 1000)
            await reader.readexactly(1000)
        await backend.refresh(time.monotonic())
        rs = dest(svc, server)
        assert rs.stats.inbytes == 5000
        assert rs.stats.outbytes == 5004
        assert svc.stats.inbytes == 5000
        assert rs.stats.inpkts >= 1
        writer.close()
    await server.close()


async def test_an_expired_entry_ends_its_connection(anyio_backend):
    server, table, key, svc = await _one()
    table.set_timeouts(1, 0, 0)  # lvsadm --set 1 0 0: idle TCP connections expire after 1 s
    async with running_proxy(table) as backend:
        reader, writer = await connect(key.address, key.port)
        assert await reader.readline() == b"rs1\n"
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert backend.counters()["expired"] == 1
        await eventually(lambda: not backend._engine.open, what="released")
    await server.close()
    assert dest(svc, server).activeconns == 0


async def test_traffic_keeps_an_entry_alive(anyio_backend):
    server, table, key, _svc = await _one()
    table.set_timeouts(1, 0, 0)
    async with running_proxy(table):
        reader, writer = await connect(key.address, key.port)
        await reader.readline()
        for _ in range(8):  # 2 s of traffic every 0.25 s: twice the timeout
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
            await asyncio.sleep(0.25)
        assert _entry(table).state == "ESTABLISHED"
        writer.close()
    await server.close()


async def test_linger_max_bounds_closed_entries(anyio_backend):
    server, table, key, svc = await _one()
    async with running_proxy(table, linger_max=2) as backend:
        for _ in range(5):
            reader, writer = await connect(key.address, key.port)
            await reader.readline()
            writer.write_eof()
            await reader.read()
            writer.close()
        await eventually(lambda: not backend._engine.open, what="all released")
        await eventually(lambda: len(table.connections.entries()) == 2, what="two lingering")
        assert {e.state for e in table.connections.entries()} == {"TIME_WAIT"}
        assert dest(svc, server).inactconns == 2
    await server.close()


async def test_persistence_template_listed_with_its_timeout(anyio_backend):
    server, table, key, svc = await _one(persistent=300)
    async with running_proxy(table):
        reader, writer = await connect(key.address, key.port)
        await reader.readline()
        lines = _lvsadm_c(table)
        template = [line for line in lines if " NONE " in line]
        assert len(template) == 1
        assert template[0].split()[1] in ("05:00", "04:59")
        assert dest(svc, server).persistconns == 1
        writer.close()
    await server.close()
