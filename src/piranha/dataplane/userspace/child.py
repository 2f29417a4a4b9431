"""The proxy worker process: ``python -m piranha.dataplane.userspace.child --fd N``.

Started by lvsd (:mod:`.worker`) with one end of a socketpair.  It runs the
proxy engine on uvloop (when asked and installed) against its own copy of
the table, and answers lvsd's requests on the socket:

* ``converge`` {spec}: make the table match the spec, then the listeners;
  answers the failures;
* ``snapshot``: counters and connection counts for lvsd's table;
* ``stop``: close everything and exit.

A second socket answers lvsd's blocking requests for the connection list
(``lvsadm -L -c``).  Log records go back to lvsd over the first socket, so they end up in
lvsd's log (syslog or the foreground prefix) like its own.  The worker
ends when lvsd does: end of file on the socket, or SIGTERM (it asks the
kernel for one when its parent dies).  It ignores SIGINT so that Ctrl-C on
a foreground lvsd shuts down in order, through lvsd.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import socket
import sys
from typing import Any

from piranha.runtime.process import die_with_parent
from piranha.table.model import VirtualTable

from . import ipc, sync
from .engine import ProxyEngine
from .settings import ProxySettings


class _ForwardLogs(logging.Handler):
    """Log records of the worker, sent to lvsd as ("log", level, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.writer: asyncio.StreamWriter | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.writer is None or self.writer.is_closing():
            return
        try:
            self.writer.write(ipc.frame(("log", record.levelno, self.format(record))))
        except Exception:  # pragma: no cover - never let logging take the worker down
            self.handleError(record)


async def serve(fd: int, query_fd: int, settings: ProxySettings, forward: _ForwardLogs) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    forward.writer = writer
    log = logging.getLogger("piranha.dataplane.userspace")
    table = VirtualTable()
    engine = ProxyEngine(table, settings, log=log)
    await engine.start()
    queries = asyncio.ensure_future(_answer_queries(query_fd, table))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop_name = type(loop).__module__.split(".")[0]
    writer.write(ipc.frame(("ready", os.getpid(), loop_name)))
    _tame_the_collector(loop)
    try:
        while not stop.is_set():
            receiving = asyncio.ensure_future(ipc.receive(reader))
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if receiving not in done:
                receiving.cancel()
                break
            stopping.cancel()
            message = receiving.result()
            if message is None:
                break  # lvsd went away
            request_id, op, args = message
            try:
                result = await _handle(engine, table, op, args)
            except Exception as exc:
                log.exception("proxy worker: %s failed", op)
                writer.write(ipc.frame(("error", request_id, f"{type(exc).__name__}: {exc}")))
            else:
                writer.write(ipc.frame(("reply", request_id, result)))
            await writer.drain()
            if op == "stop":
                break
    finally:
        forward.writer = None
        queries.cancel()
        await engine.close()
        writer.close()


async def _answer_queries(fd: int, table: VirtualTable) -> None:
    """lvsd's blocking questions (the connection list), on their own socket."""
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd))
    conns = table.connections
    assert conns is not None
    while await ipc.receive(reader) is not None:
        raw = []
        for i, entry in enumerate(conns.entries()):
            raw.append(sync.entry_tuple(entry))
            if i % 4096 == 4095:
                await asyncio.sleep(0)  # a long list must not stall the traffic
        writer.write(ipc.frame(raw))
        await writer.drain()


YOUNG_COLLECTION = 0.5  # seconds between collections of young objects
FULL_COLLECTION = 600.0  # seconds between full collections


def _tame_the_collector(loop: asyncio.AbstractEventLoop) -> None:
    """Keep the cyclic garbage collector's full passes off the data path.

    The proxy's objects are freed by reference counting (it breaks its own
    cycles); what the collector would find is the odd cycle of an error
    path.  Left automatic, it rescans every long-lived object (open
    connections, lingering entries, the table's timer heap: hundreds of
    thousands at a high connection rate) whenever enough survive, a pause of
    tens of milliseconds that shows in p99 latency.  So: objects made at
    start are frozen, automatic collection is off, young objects are
    collected every half second (cheap), and a full pass runs every ten
    minutes.
    """
    gc.collect()
    gc.freeze()
    gc.disable()

    def young() -> None:
        gc.collect(1)
        loop.call_later(YOUNG_COLLECTION, young)

    def full() -> None:
        gc.collect()
        loop.call_later(FULL_COLLECTION, full)

    loop.call_later(YOUNG_COLLECTION, young)
    loop.call_later(FULL_COLLECTION, full)


async def _handle(engine: ProxyEngine, table: VirtualTable, op: str, args: dict[str, Any]) -> Any:
    if op == "converge":
        sync.apply(table, args["spec"])
        failed = await engine.converge()
        return {sync.key_tuple(key): why for key, why in failed.items()}
    if op == "snapshot":
        engine.housekeeping()
        return sync.snapshot(table, engine.counters.as_dict())
    if op == "stop":
        return None
    raise ValueError(f"unknown request {op!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m piranha.dataplane.userspace.child")
    parser.add_argument("--fd", type=int, required=True, help="lvsd's end of the socketpair")
    parser.add_argument("--query-fd", type=int, required=True, help="the socketpair for lists")
    parser.add_argument("--settings", default="{}", help="ProxySettings fields as JSON")
    parser.add_argument("--log-level", type=int, default=logging.INFO)
    args = parser.parse_args(argv)
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = ProxySettings(**json.loads(args.settings))
    forward = _ForwardLogs()
    forward.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(forward)
    root.setLevel(args.log_level)
    coro = serve(args.fd, args.query_fd, settings, forward)
    profile = os.environ.get("PIRANHA_PROXY_PROFILE")
    if profile:  # diagnostics: cProfile the worker, stats written at exit
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            _run(coro, settings)
        finally:
            profiler.disable()
            profiler.dump_stats(profile)
        return 0
    _run(coro, settings)
    return 0


def _run(coro, settings: ProxySettings) -> None:
    if settings.use_uvloop:
        try:
            import uvloop
        except ImportError:
            asyncio.run(coro)
        else:
            uvloop.run(coro)
    else:
        asyncio.run(coro)


if __name__ == "__main__":
    sys.exit(main())
