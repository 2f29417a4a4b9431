"""UDP services: per-client flows, answers from the VIP, expiry, limits, PROXY v2, ops."""

from __future__ import annotations

import asyncio
import time

import pytest

from piranha.table.model import ServiceKey, VirtualTable

from .helpers import (
    UdpRealServer,
    add_service,
    dest,
    eventually,
    free_port,
    loopback,
    running_proxy,
)
from .test_proxyproto import parse_v2

pytestmark = pytest.mark.anyio


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue = asyncio.Queue()
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data, addr) -> None:
        self.answers.put_nowait((data, addr))

    async def ask(self, data: bytes, to, timeout: float = 5.0):
        self.transport.sendto(data, to)
        return await asyncio.wait_for(self.answers.get(), timeout)


async def _client(source: str | None = None) -> Client:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_datagram_endpoint(Client, local_addr=(source or loopback(), 0))
    return proto


async def _setup(n=3, scheduler="rr", **options):
    servers = [await UdpRealServer(f"rs{i + 1}").start() for i in range(n)]
    vip = loopback()
    key = ServiceKey.udp(vip, free_port(vip, kind=2))
    table = VirtualTable()
    svc = add_service(table, key, scheduler, servers, **options)
    return servers, table, key, svc


async def _close(servers, clients=()) -> None:
    for s in servers:
        await s.close()
    for c in clients:
        c.transport.close()


async def test_each_client_flow_sticks_to_its_server_and_answers_come_from_the_vip(anyio_backend):
    servers, table, key, svc = await _setup()
    clients = [await _client() for _ in range(3)]
    vip = (key.address, key.port)
    async with running_proxy(table) as backend:
        names = []
        for c in clients:
            data, src = await c.ask(b"q1", vip)
            assert src == vip  # the VIP answers, not the real server
            names.append(data.split(b":")[0])
        assert names == [b"rs1", b"rs2", b"rs3"]
        for c, name in zip(clients, names, strict=True):
            for i in range(3):
                data, _ = await c.ask(b"again%d" % i, vip)
                assert data == name + b":again%d" % i
        assert len(backend._engine.flows) == 3
        entries = [e for e in table.connections.entries() if not e.template]
        assert {e.state for e in entries} == {"UDP"}
        assert all(d.inactconns == 1 and d.activeconns == 0 for d in svc.destinations)
        await backend.refresh(time.monotonic())
        assert dest(svc, servers[0]).stats.inpkts == 4
        assert dest(svc, servers[0]).stats.inbytes == 2 + 3 * 6
    await _close(servers, clients)


async def test_an_idle_flow_expires_with_the_udp_timeout(anyio_backend):
    servers, table, key, _svc = await _setup(n=2)
    table.set_timeouts(0, 0, 1)  # lvsadm --set 0 0 1
    client = await _client()
    vip = (key.address, key.port)
    async with running_proxy(table) as backend:
        first, _ = await client.ask(b"a", vip)
        await eventually(lambda: not backend._engine.flows, what="the flow to expire")
        assert table.connections.entries() == []
        second, _ = await client.ask(b"b", vip)  # scheduled afresh: rr moved on
    await _close(servers, [client])
    assert (first, second) == (b"rs1:a", b"rs2:b")


async def test_the_flow_limit_drops_new_clients_not_old_ones(anyio_backend):
    servers, table, key, _svc = await _setup(n=1)
    clients = [await _client() for _ in range(3)]
    vip = (key.address, key.port)
    async with running_proxy(table, max_udp_flows=2) as backend:
        for c in clients[:2]:
            assert (await c.ask(b"x", vip))[0] == b"rs1:x"
        clients[2].transport.sendto(b"x", vip)
        await eventually(lambda: backend.counters()["udp_flows_full"] == 1, what="counted")
        assert clients[2].answers.empty()
        for c in clients[:2]:
            assert (await c.ask(b"y", vip))[0] == b"rs1:y"
    await _close(servers, clients)


async def test_proxy_protocol_v2_on_every_datagram(anyio_backend):
    servers, table, key, _svc = await _setup(n=1, proxy_protocol=True)
    client = await _client()
    vip = (key.address, key.port)
    source = client.transport.get_extra_info("sockname")
    async with running_proxy(table):
        await client.ask(b"one", vip)
        await client.ask(b"two", vip)
    await _close(servers, [client])
    payloads = [data for data, _ in servers[0].received]
    assert [p[28:] for p in payloads] == [b"one", b"two"]
    for p in payloads:
        assert parse_v2(p) == {
            "command": "PROXY", "family": "UDP4", "source": source,
            "destination": vip, "length": 28,
        }


async def test_no_destination_drops_the_datagram(anyio_backend):
    servers, table, key, _svc = await _setup(n=1)
    table.edit_dest(key, servers[0].address, servers[0].port, weight=0)
    client = await _client()
    async with running_proxy(table) as backend:
        client.transport.sendto(b"x", (key.address, key.port))
        await eventually(lambda: backend.counters()["no_destination"] == 1, what="counted")
    await _close(servers, [client])
    assert servers[0].received == []


async def test_one_packet_scheduling_schedules_every_datagram(anyio_backend):
    servers, table, key, svc = await _setup(n=2, ops=True)
    client = await _client()
    vip = (key.address, key.port)
    async with running_proxy(table):
        answers = [(await client.ask(b"%d" % i, vip))[0] for i in range(4)]
        assert table.connections.entries() == []  # ops entries never enter the table
        assert [d.stats.conns for d in svc.destinations] == [2, 2]
    await _close(servers, [client])
    assert answers == [b"rs1:0", b"rs2:1", b"rs1:2", b"rs2:3"]


async def test_removed_server_drops_its_flows_datagrams(anyio_backend):
    servers, table, key, _svc = await _setup(n=1)
    client = await _client()
    vip = (key.address, key.port)
    async with running_proxy(table) as backend:
        assert (await client.ask(b"a", vip))[0] == b"rs1:a"
        table.delete_dest(key, servers[0].address, servers[0].port)
        await backend.converge()
        client.transport.sendto(b"b", vip)
        await eventually(lambda: backend.counters()["udp_dropped"] == 1, what="dropped")
    await _close(servers, [client])
    assert [d for d, _ in servers[0].received] == [b"a"]
