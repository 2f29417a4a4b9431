"""converge(): listeners follow the table; connections survive what does not concern them."""

from __future__ import annotations

import asyncio
import socket

import pytest

from piranha.dataplane.base import BackendError
from piranha.table.model import IPPROTO_TCP, MarkMatch, ServiceKey, VirtualTable

from .helpers import (
    RealServer,
    add_service,
    connect,
    dest,
    free_port,
    loopback,
    running_proxy,
    started_proxy,
    who,
)

pytestmark = pytest.mark.anyio


async def _echo_line(reader, writer, text: bytes) -> bytes:
    writer.write(text)
    return await asyncio.wait_for(reader.readexactly(len(text)), 5)


async def test_services_come_and_go_while_connections_stay(anyio_backend):
    a, b = await RealServer("a").start(), await RealServer("b").start()
    vip = loopback()
    key_a = ServiceKey.tcp(vip, free_port(vip))
    key_b = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    add_service(table, key_a, "rr", [a])
    async with running_proxy(table) as backend:
        reader, writer = await connect(vip, key_a.port)
        assert await reader.readline() == b"a\n"
        with pytest.raises(ConnectionRefusedError):  # nothing listens there yet
            await connect(vip, key_b.port)
        add_service(table, key_b, "rr", [b])
        await backend.converge()
        assert await who(vip, key_b.port) == "b"
        assert await _echo_line(reader, writer, b"one\n") == b"one\n"
        # a weight, a scheduler and a persistence change on A: its sockets stay
        table.edit_service(key_a, "wlc", persistent=30)
        table.edit_dest(key_a, a.address, a.port, weight=5)
        await backend.converge()
        assert await _echo_line(reader, writer, b"two\n") == b"two\n"
        table.delete_service(key_b)
        await backend.converge()
        with pytest.raises(ConnectionRefusedError):
            await connect(vip, key_b.port)
        assert await _echo_line(reader, writer, b"three\n") == b"three\n"
        writer.close()
    await a.close()
    await b.close()


async def test_removed_server_stalls_its_connection_until_it_returns(anyio_backend):
    # IPVS drops the client's packets of a deleted real server's connections
    # (without expire_nodest_conn) and resumes them if it is added back in time.
    rs = await RealServer("rs").start()
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    add_service(table, key, "rr", [rs])
    async with running_proxy(table) as backend:
        reader, writer = await connect(vip, key.port)
        assert await reader.readline() == b"rs\n"
        table.delete_dest(key, rs.address, rs.port)
        await backend.converge()
        writer.write(b"held\n")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.readline(), 0.3)
        table.add_dest(key, rs.address, rs.port)  # revived from the trash
        await backend.converge()
        assert await asyncio.wait_for(reader.readline(), 5) == b"held\n"
        writer.close()
    await rs.close()


async def test_expire_nodest_conn_resets_a_removed_servers_connections(anyio_backend):
    rs = await RealServer("rs").start()
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable(expire_nodest_conn=True)
    add_service(table, key, "rr", [rs])
    async with running_proxy(table) as backend:
        reader, writer = await connect(vip, key.port)
        assert await reader.readline() == b"rs\n"
        gone = table.delete_dest(key, rs.address, rs.port)
        assert table.connections.flush_dest(gone, 0.0)  # what lvsadm -d does
        await backend.converge()
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(), 5)
        writer.close()
    await rs.close()


async def test_failures_are_reported_per_service_and_the_rest_runs(anyio_backend):
    rs = await RealServer("rs").start()
    vip = loopback()
    good = ServiceKey.tcp(vip, free_port(vip))
    not_local = ServiceKey.tcp("192.0.2.10", 80)  # TEST-NET-1: not an address of ours
    busy_port = free_port(vip)
    squatter = socket.socket()
    squatter.bind((vip, busy_port))
    squatter.listen()
    busy = ServiceKey.tcp(vip, busy_port)
    all_ports = ServiceKey.tcp(vip, 0)
    no_ports = ServiceKey.mark(5)
    table = VirtualTable()
    for key in (good, not_local, busy, all_ports, no_ports):
        add_service(table, key, "rr", [rs])
    try:
        backend_error = None
        async with started_proxy(table) as backend:
            try:
                await backend.converge()
            except BackendError as exc:
                backend_error = exc
            assert await who(vip, good.port) == "rs"
            assert backend_error is not None
            failed = backend_error.failed
            assert set(failed) == {not_local, busy, all_ports, no_ports}
            assert "address not local" in failed[not_local]
            assert "ip addr add 192.0.2.10/32 dev lo" in failed[not_local]
            assert "port in use" in failed[busy] and f"sport = :{busy_port}" in failed[busy]
            assert "port-0" in failed[all_ports]
            assert "fwmark_ports" in failed[no_ports]
            # once the port is free, the next converge programs it
            squatter.close()
            table.delete_service(not_local)
            table.delete_service(all_ports)
            table.delete_service(no_ports)
            await backend.converge()
            assert await who(vip, busy_port) == "rs"
    finally:
        squatter.close()
        await rs.close()


async def test_a_fwmark_port_wins_over_a_port_service(anyio_backend):
    vip = loopback()
    port = free_port(vip)
    marked = await RealServer("marked").start([port])
    plain = await RealServer("plain").start()
    table = VirtualTable()
    plain_key = ServiceKey.tcp(vip, port)
    add_service(table, plain_key, "rr", [plain])
    add_service(table, ServiceKey.mark(3), "rr", [marked],
                match=[MarkMatch(IPPROTO_TCP, vip, port, port)])
    backend_error = None
    async with started_proxy(table) as backend:
        try:
            await backend.converge()
        except BackendError as exc:
            backend_error = exc
        assert await who(vip, port) == "marked"
    assert backend_error is not None and set(backend_error.failed) == {plain_key}
    assert "FWM 3" in backend_error.failed[plain_key]
    await marked.close()
    await plain.close()


async def test_weight_change_applies_to_the_next_connection(anyio_backend):
    servers = [await RealServer(f"rs{i}").start() for i in (1, 2)]
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    svc = add_service(table, key, "wrr", servers, [1, 1])
    async with running_proxy(table) as backend:
        assert {await who(vip, key.port) for _ in range(2)} == {"rs1", "rs2"}
        table.edit_dest(key, servers[1].address, servers[1].port, weight=0)
        await backend.converge()
        assert [await who(vip, key.port) for _ in range(3)] == ["rs1"] * 3
    for s in servers:
        await s.close()
    assert dest(svc, servers[0]).stats.conns == 4
