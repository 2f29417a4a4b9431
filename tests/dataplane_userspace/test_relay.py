"""Relaying: half-close, resets both ways, backpressure, PROXY v2, failed connects."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import struct

import pytest

from piranha.table.model import ServiceKey, VirtualTable

from .helpers import (
    RealServer,
    add_service,
    connect,
    eventually,
    free_port,
    loopback,
    outcome,
    running_proxy,
)
from .test_proxyproto import parse_v2

pytestmark = pytest.mark.anyio


async def _one(scheduler="rr", **options):
    server = await RealServer("rs1").start()
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    add_service(table, key, scheduler, [server], **options)
    return server, table, key


def _reset_close(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_client_half_close_keeps_the_answer_coming(anyio_backend):
    server, table, key = await _one()
    async with running_proxy(table):
        reader, writer = await connect(key.address, key.port)
        writer.write(b"question")
        writer.write_eof()  # we are done sending; the answer must still arrive
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    await server.close()
    assert answer == b"rs1\nquestion"  # then the server's own EOF ended it
    assert server.eof_seen == 1


async def test_server_half_close_keeps_the_client_sending(anyio_backend):
    got = asyncio.get_running_loop().create_future()

    async def says_bye_first(reader, writer):
        writer.write(b"bye\n")
        writer.write_eof()
        got.set_result(await reader.read())  # everything the client sends after our EOF

    server, table, key = await _one()
    server.on_connect = says_bye_first
    async with running_proxy(table):
        reader, writer = await connect(key.address, key.port)
        assert await asyncio.wait_for(reader.read(), 5) == b"bye\n"  # then EOF
        writer.write(b"after your EOF")
        writer.write_eof()
        assert await asyncio.wait_for(got, 5) == b"after your EOF"
        writer.close()
    await server.close()


async def test_client_reset_becomes_a_server_reset(anyio_backend):
    seen = asyncio.get_running_loop().create_future()

    async def wait_for_reset(reader, writer):
        writer.write(b"hello\n")
        try:
            seen.set_result(await reader.read())
        except ConnectionResetError:
            seen.set_result("reset")

    server, table, key = await _one()
    server.on_connect = wait_for_reset
    async with running_proxy(table):
        reader, writer = await connect(key.address, key.port)
        assert await asyncio.wait_for(reader.readline(), 5) == b"hello\n"
        _reset_close(writer)
        assert await asyncio.wait_for(seen, 5) == "reset"
    await server.close()


async def test_server_reset_becomes_a_client_reset(anyio_backend):
    async def reset_at_once(reader, writer):
        writer.write(b"hello\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        _reset_close(writer)

    server, table, key = await _one()
    server.on_connect = reset_at_once
    async with running_proxy(table):
        reader, writer = await connect(key.address, key.port)
        assert await asyncio.wait_for(reader.readline(), 5) == b"hello\n"
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(), 5)
        writer.close()
    await server.close()


async def test_slow_reader_bounds_the_proxys_buffers(anyio_backend):
    """The real server sends 32 MB to a client that does not read: the proxy holds little."""
    size = 32 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)
    done = asyncio.get_running_loop().create_future()

    async def firehose(reader, writer):
        view = memoryview(payload)
        for offset in range(0, size, 1 << 20):
            writer.write(view[offset : offset + (1 << 20)])
            await writer.drain()  # the server itself only sends what the proxy takes
        writer.write_eof()
        done.set_result(True)

    server, table, key = await _one()
    server.on_connect = firehose
    async with running_proxy(table, high_water=65536, low_water=16384) as backend:
        reader, writer = await connect(key.address, key.port)
        writer.transport.pause_reading()  # the slow reader: reads nothing for a while
        await eventually(lambda: backend._engine.open, what="the connection")
        client = next(iter(backend._engine.open.values()))
        await asyncio.sleep(0.5)
        # nothing near 32 MB is queued in the proxy: about the high-water mark
        # plus one read (at most 256 KiB per read on either loop)
        queued = client.transport.get_write_buffer_size()
        assert queued <= 65536 + 256 * 1024, queued
        assert not done.done()  # the server is held back by TCP, not buffered into us
        writer.transport.resume_reading()
        digest = hashlib.sha256()
        total = 0
        while True:
            chunk = await asyncio.wait_for(reader.read(1 << 20), 10)
            if not chunk:
                break
            digest.update(chunk)
            total += len(chunk)
        writer.close()
    await server.close()
    assert total == size
    assert digest.digest() == hashlib.sha256(payload).digest()


async def test_slow_server_bounds_the_proxys_buffers(anyio_backend):
    """The client sends 16 MB to a real server that does not read yet."""
    size = 16 * 1024 * 1024
    release = asyncio.Event()
    received = asyncio.get_running_loop().create_future()

    async def slow_sink(reader, writer):
        await release.wait()
        data = bytearray()
        while chunk := await reader.read(1 << 20):
            data += chunk
        received.set_result(bytes(data))

    server, table, key = await _one()
    server.on_connect = slow_sink
    async with running_proxy(table) as backend:
        _reader, writer = await connect(key.address, key.port)
        payload = b"x" * size
        writer.write(payload)
        await eventually(lambda: backend._engine.open, what="the connection")
        client = next(iter(backend._engine.open.values()))
        await eventually(lambda: client.server_transport is not None, what="server side")
        await asyncio.sleep(0.5)
        queued = client.server_transport.get_write_buffer_size()
        assert queued <= 65536 + 256 * 1024, queued
        release.set()
        writer.write_eof()
        data = await asyncio.wait_for(received, 10)
        writer.close()
    await server.close()
    assert data == payload


async def test_proxy_protocol_v2_header_comes_first(anyio_backend):
    server, table, key = await _one(proxy_protocol=True)
    source = loopback()
    async with running_proxy(table):
        reader, writer = await connect(key.address, key.port, source=source)
        cport = writer.get_extra_info("sockname")[1]
        writer.write(b"payload")
        assert await asyncio.wait_for(reader.readline(), 5) == b"rs1\n"
        await eventually(lambda: server.first_bytes, what="the server's first read")
        writer.close()
    await server.close()
    first = server.first_bytes[0]
    header = parse_v2(first)
    assert header == {
        "command": "PROXY",
        "family": "TCP4",
        "source": (source, cport),
        "destination": (key.address, key.port),
        "length": 28,
    }
    assert first[28:] in (b"", b"payload"[: len(first) - 28])


async def test_refused_connect_resets_the_client_and_counts(anyio_backend):
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    dead = RealServer("dead")
    dead.port = free_port(dead.address)  # nobody listens there
    table = VirtualTable()
    svc = add_service(table, key, "rr", [dead])
    async with running_proxy(table) as backend:
        assert await outcome(vip, key.port) == "reset"
        await eventually(lambda: backend.counters()["connect_failed"] == 1, what="counted")
    entries = [e for e in table.connections.entries()]
    assert svc.destinations[0].stats.conns == 1
    assert entries == []  # stop() removed them


async def test_connect_timeout_resets_the_client(anyio_backend):
    # a listener whose accept queue is full drops SYNs: the connect hangs
    address = loopback()
    hole = socket.socket()
    hole.bind((address, 0))
    hole.listen(0)
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(hole.getsockname())
        fillers.append(s)
    await asyncio.sleep(0.1)
    blackhole = RealServer("hole", address)
    blackhole.port = hole.getsockname()[1]
    vip = loopback()
    key = ServiceKey.tcp(vip, free_port(vip))
    table = VirtualTable()
    svc = add_service(table, key, "rr", [blackhole])
    try:
        async with running_proxy(table, connect_timeout=0.3) as backend:
            reader, writer = await connect(vip, key.port)
            await eventually(lambda: svc.destinations[0].inactconns == 1, what="SYN_RECV entry")
            entry = next(e for e in table.connections.entries() if not e.template)
            assert entry.state == "SYN_RECV"
            assert svc.destinations[0].activeconns == 0
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(), 5)
            writer.close()
            assert backend.counters()["connect_failed"] == 1
            assert entry.state == "CLOSE"
    finally:
        hole.close()
        for s in fillers:
            s.close()


async def test_data_sent_before_the_real_server_answers_is_held_and_delivered(anyio_backend):
    # The client writes 1 MB the moment it is connected: the proxy has not
    # reached the real server yet (and under uvloop data arrives even after
    # pause_reading in connection_made, deps.md caveat 3), so it must hold
    # the data, stop reading above the high-water mark, and deliver all of
    # it in order once connected.
    payload = bytes(range(256)) * 4096
    got = asyncio.get_running_loop().create_future()

    async def collect(reader, writer):
        got.set_result(await reader.read())
        writer.close()

    server, table, key = await _one()
    server.on_connect = collect
    async with running_proxy(table):
        _reader, writer = await connect(key.address, key.port)
        writer.write(payload)
        writer.write_eof()
        assert await asyncio.wait_for(got, 10) == payload
        writer.close()
    await server.close()
