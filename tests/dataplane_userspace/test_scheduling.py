"""New connections are scheduled by the table: schedulers, weights, persistence, thresholds."""

from __future__ import annotations

import asyncio
import collections

import pytest

from piranha.table.model import IPPROTO_TCP, MarkMatch, ServiceKey, VirtualTable

from .helpers import (
    RealServer,
    add_service,
    connect,
    dest,
    eventually,
    free_port,
    free_range,
    loopback,
    outcome,
    running_proxy,
    who,
)

pytestmark = pytest.mark.anyio


async def _servers(n: int) -> list[RealServer]:
    return [await RealServer(f"rs{i + 1}").start() for i in range(n)]


async def _close(servers) -> None:
    for s in servers:
        await s.close()


async def test_round_robin_takes_each_server_in_list_order(anyio_backend):
    servers = await _servers(3)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    add_service(table, key, "rr", servers)
    async with running_proxy(table):
        answers = [await who(vip, key.port) for _ in range(9)]
    await _close(servers)
    assert answers == ["rs1", "rs2", "rs3"] * 3


async def test_weighted_round_robin_is_the_kernels_sequence(anyio_backend):
    # peers.md (b): weights A=4, B=3, C=2 give A, A B, A B C, A B C per cycle of 9.
    # Added one by one (as lvsd and ipvsadm do) the first round is the last
    # pass of a cycle (tests/table/test_round_robin.py).
    servers = await _servers(3)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    add_service(table, key, "wrr", servers, [4, 3, 2])
    async with running_proxy(table):
        answers = [await who(vip, key.port) for _ in range(21)]
    await _close(servers)
    cycle = ["rs1", "rs1", "rs2", "rs1", "rs2", "rs3", "rs1", "rs2", "rs3"]
    assert answers == ["rs1", "rs2", "rs3", *cycle, *cycle]
    assert collections.Counter(answers[3:]) == {"rs1": 8, "rs2": 6, "rs3": 4}


async def test_least_connection_sees_the_open_connections(anyio_backend):
    servers = await _servers(2)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    svc = add_service(table, key, "lc", servers)
    async with running_proxy(table):
        held = []
        for _ in range(3):  # three held on whichever is least loaded: rs1, rs2, rs1
            reader, writer = await connect(vip, key.port)
            held.append((await reader.readline(), writer))
        assert [name for name, _ in held] == [b"rs1\n", b"rs2\n", b"rs1\n"]
        await eventually(lambda: dest(svc, servers[0]).activeconns == 2, what="2 active on rs1")
        assert dest(svc, servers[1]).activeconns == 1
        # rs2 has fewer active connections now, so it gets the next one
        assert await who(vip, key.port) == "rs2"
        for _, writer in held:
            writer.close()
    await _close(servers)


async def test_persistence_keeps_a_client_on_its_server(anyio_backend):
    servers = await _servers(3)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    add_service(table, key, "rr", servers, persistent=60)
    clients = [loopback() for _ in range(3)]
    async with running_proxy(table):
        first = [await who(vip, key.port, source=c) for c in clients]
        again = [await who(vip, key.port, source=c) for c in reversed(clients) for _ in range(2)]
    await _close(servers)
    assert sorted(first) == ["rs1", "rs2", "rs3"]  # the scheduler spread new clients
    assert again == [first[2]] * 2 + [first[1]] * 2 + [first[0]] * 2
    templates = [e for e in table.connections.entries() if e.template]
    assert sorted(t.caddr for t in templates) == sorted(clients)


async def test_persistence_netmask_groups_clients(anyio_backend):
    servers = await _servers(2)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    add_service(table, key, "rr", servers, persistent=60, netmask="255.255.255.0")
    net = loopback().rsplit(".", 1)[0]
    async with running_proxy(table):
        answers = {await who(vip, key.port, source=f"{net}.{host}") for host in (10, 20, 30)}
    await _close(servers)
    assert len(answers) == 1  # one /24, one template, one server


async def test_fwmark_group_spans_its_ports_with_persistence(anyio_backend):
    # HTTP and HTTPS (here: two ports and a small range) of one client reach
    # the same real server, as the kernel does for one firewall mark.  With
    # persistence the kernel connects to the port the client asked for
    # (ip_vs_sched_persist), so the real servers listen on all of them.
    vip = loopback()
    base = free_range(vip, 6)
    web, tls, lo = base, base + 1, base + 2
    servers = [await RealServer(f"rs{i + 1}").start(list(range(base, base + 6))) for i in range(3)]
    key = ServiceKey.mark(7)
    match = [
        MarkMatch(IPPROTO_TCP, vip, web, web),
        MarkMatch(IPPROTO_TCP, vip, tls, tls),
        MarkMatch(IPPROTO_TCP, vip, lo, lo + 3),
    ]
    table = VirtualTable()
    add_service(table, key, "rr", servers, persistent=60, match=match)
    clients = [loopback() for _ in range(3)]
    async with running_proxy(table):
        seen = {}
        for c in clients:
            seen[c] = {await who(vip, port, source=c) for port in (web, tls, lo, lo + 3)}
    await _close(servers)
    assert all(len(names) == 1 for names in seen.values()), seen
    assert sorted(next(iter(n)) for n in seen.values()) == ["rs1", "rs2", "rs3"]
    templates = [e for e in table.connections.entries() if e.template]
    assert {(t.protocol, t.vaddr, t.vport) for t in templates} == {(0, "0.0.0.7", 0)}


async def test_fwmark_without_persistence_schedules_each_connection(anyio_backend):
    vip = loopback()
    base = free_range(vip, 2)
    servers = [await RealServer(f"rs{i + 1}").start([base, base + 1]) for i in range(2)]
    key = ServiceKey.mark(9)
    table = VirtualTable()
    add_service(table, key, "rr", servers, match=[MarkMatch(IPPROTO_TCP, vip, base, base + 1)])
    async with running_proxy(table):
        answers = [await who(vip, port) for port in (base, base + 1, base, base + 1)]
    await _close(servers)
    assert answers == ["rs1", "rs2", "rs1", "rs2"]


async def test_weight_zero_takes_no_new_connections_but_keeps_established(anyio_backend):
    servers = await _servers(2)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    svc = add_service(table, key, "rr", servers)
    async with running_proxy(table) as backend:
        reader, writer = await connect(vip, key.port)
        assert await reader.readline() == b"rs1\n"
        table.edit_dest(key, servers[0].address, servers[0].port, weight=0)
        await backend.converge()
        assert [await who(vip, key.port) for _ in range(4)] == ["rs2"] * 4
        writer.write(b"still here\n")
        assert await asyncio.wait_for(reader.readline(), 5) == b"still here\n"
        writer.close()
    await _close(servers)
    assert dest(svc, servers[0]).stats.conns == 1


async def test_upper_threshold_overloads_a_server_until_below_the_lower(anyio_backend):
    servers = await _servers(2)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    # fo sends everything to rs1 (highest weight) while it is not overloaded:
    # it takes at most 2 connections, and new ones again only below 1
    svc = add_service(table, key, "fo", servers, [100, 1], thresholds=[(2, 1), (0, 0)])
    async with running_proxy(table, linger_max=0):
        held = []
        for _ in range(3):
            reader, writer = await connect(vip, key.port)
            held.append((await reader.readline(), writer))
        assert [name for name, _ in held] == [b"rs1\n", b"rs1\n", b"rs2\n"]
        rs1 = dest(svc, servers[0])
        assert rs1.overloaded
        held[0][1].close()
        await eventually(lambda: rs1.activeconns + rs1.inactconns == 1, what="one left on rs1")
        assert rs1.overloaded  # 1 is not below the lower threshold 1
        held[1][1].close()
        await eventually(lambda: not rs1.overloaded, what="rs1 no longer overloaded")
        assert await who(vip, key.port) == "rs1"
        held[2][1].close()
    await _close(servers)


async def test_no_destination_resets_the_client_at_once(anyio_backend):
    servers = await _servers(1)
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    add_service(table, key, "rr", servers, [0])
    async with running_proxy(table) as backend:
        assert await outcome(vip, key.port) == "reset"
        assert await outcome(vip, key.port) == "reset"
        assert backend.counters()["no_destination"] == 2
    await _close(servers)
    assert servers[0].accepted == 0
