"""The small parts: coalescing converges, history, the file watch, caching names, sd_notify."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from piranha.dataplane.base import BackendError
from piranha.lvsd.converge import Converger
from piranha.lvsd.history import History, service_id
from piranha.lvsd.watch import FileWatch
from piranha.runtime.notify import notify
from piranha.runtime.resolver import CachingResolver
from piranha.table.model import IPPROTO_TCP, ServiceKey, VirtualTable


def test_converger_coalesces_and_serialises() -> None:
    async def main() -> None:
        calls: list[int] = []
        running = 0
        errors: list[BackendError] = []

        async def converge() -> None:
            nonlocal running
            running += 1
            assert running == 1, "two converges at once"
            calls.append(len(calls))
            await asyncio.sleep(0.01)
            running -= 1
            if len(calls) == 3:
                raise BackendError({ServiceKey.tcp("1.2.3.4", 80): "no"})

        import logging

        c = Converger(converge, on_error=errors.append, log=logging.getLogger("t"))
        for _ in range(10):
            c.request()
        await c.idle()
        assert len(calls) == 1
        c.request()
        await asyncio.sleep(0.005)  # in flight now
        c.request()
        c.request()
        await c.idle()
        assert len(calls) == 3, "one more round for the requests made while converging"
        assert len(errors) == 1 and "1.2.3.4" in str(errors[0])
        await c.settle()
        assert len(calls) == 4
        await c.close()

    asyncio.run(main())


def test_history_keeps_ten_minutes() -> None:
    table = VirtualTable()
    key = ServiceKey.tcp("1.2.3.4", 80)
    svc = table.add_service(key, "rr")
    table.add_dest(key, "10.0.0.2", 80)
    history = History(keep_seconds=10, interval=2)
    for t in range(20):
        svc.stats.conns = t
        history.record(table, 1000.0 + 2 * t)
    assert len(history) == 5
    view = history.view(seconds=4, wall=1038.0)
    assert [s["t"] for s in view["samples"]] == [1034.0, 1036.0, 1038.0]
    last = view["samples"][-1]
    assert last["services"]["tcp:1.2.3.4:80"]["conns"] == 19
    assert set(last["dests"]) == {"tcp:1.2.3.4:80|10.0.0.2:80"}
    assert service_id(ServiceKey.mark(7)) == "fwm:7"
    assert service_id(ServiceKey(17, "1.2.3.4", 53)) == "udp:1.2.3.4:53"


def test_file_watch(tmp_path: Path) -> None:
    path = tmp_path / "lvs.cf"
    path.write_text("a\n")
    watch = FileWatch(path)
    assert not watch.changed()
    path.write_text("ab\n")  # in place: size
    assert watch.changed()
    assert not watch.changed(), "once per change"
    other = tmp_path / "new"
    other.write_text("ab\n")
    os.replace(other, path)  # atomic replacement: inode
    assert watch.changed()
    path.unlink()
    assert not watch.changed(), "a missing file is for the reload to report"
    path.write_text("x\n")
    watch.rebase()
    assert not watch.changed()


class SlowResolver:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def host(self, address: str) -> str | None:
        self.asked.append(address)
        return {"127.0.0.1": "localhost"}.get(address)

    def service(self, port: int, proto: int) -> str | None:
        return "http" if port == 80 else None

    def address(self, name: str) -> str | None:
        return None

    def port(self, name: str, proto: int) -> int | None:
        return None


def test_caching_resolver_never_blocks_and_remembers() -> None:
    async def main() -> None:
        inner = SlowResolver()
        now = [0.0]
        r = CachingResolver(inner, ttl=10, clock=lambda: now[0])
        assert r.host("127.0.0.1") is None and r.service(80, IPPROTO_TCP) is None
        assert inner.asked == [], "answers come from the cache only"
        assert await r.fill() == 2
        assert r.host("127.0.0.1") == "localhost"
        assert r.service(80, IPPROTO_TCP) == "http"
        assert r.host("10.9.9.9") is None
        await r.fill()
        assert r.host("10.9.9.9") is None and not r.misses, "unknown is remembered too"
        now[0] = 11.0
        assert r.host("127.0.0.1") is None and r.misses, "expired"

    asyncio.run(main())


def test_notify_never_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "n.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        sent = [notify("READY=1") for _ in range(2000)]  # nobody reads: the queue fills
        assert sent[0] and not sent[-1]
        assert receiver.recv(100) == b"READY=1"
        monkeypatch.delenv("NOTIFY_SOCKET")
        assert notify("READY=1") is False
    finally:
        receiver.close()


def test_history_is_compact(monkeypatch: pytest.MonkeyPatch) -> None:
    from piranha.lvsd import history as module

    table = VirtualTable()
    key = ServiceKey.tcp("1.2.3.4", 80)
    table.add_service(key, "rr")
    table.add_dest(key, "10.0.0.2", 80)
    table.add_dest(key, "10.0.0.3", 80)
    h = History()
    h.record(table, 1.0)
    h.record(table, 2.0)
    first, second = h._samples
    assert second.dest_keys is first.dest_keys, "the key list is shared while the shape stays"
    monkeypatch.setattr(module, "MAX_DEST_HISTORY", 1)
    h.record(table, 3.0)
    last = h.view(1, 3.0)["samples"][-1]
    assert last["dests"] == {} and last["services"]["tcp:1.2.3.4:80"]["conns"] == 0
