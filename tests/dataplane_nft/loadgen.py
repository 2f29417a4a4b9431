"""A client for tests: many requests to a virtual service, tallied by the real server that answered.

    python loadgen.py HOST PORT [--count N] [--duration S] [--concurrency C]
                      [--sources A,B,...] [--keepalive K] [--udp] [--path /x]

Connection per request by default; ``--keepalive K`` sends K requests per
connection.  ``--sources`` binds the connections to these client addresses
in turn (persistence and source hashing need several clients).  Prints
one JSON object: {"names": {name: n}, "by_source": {addr: {name: n}},
"failures": n, "errors": [first few], "requests": n}.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import time
from collections import Counter, defaultdict


async def http_connection(host, port, source, path, requests, timeout):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, local_addr=(source, 0) if source else None), timeout
    )
    names = []
    try:
        for i in range(requests):
            last = i == requests - 1
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{'Connection: close' if last else ''}\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await asyncio.wait_for(reader.readexactly(length), timeout)
            names.append(body.decode().strip())
    finally:
        writer.close()
    return names


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future = asyncio.get_running_loop().create_future()

    def datagram_received(self, data, addr) -> None:
        if not self.answer.done():
            self.answer.set_result(data.decode())


# each UDP request from a port of its own, below the kernel's ephemeral range: a port
# drawn twice would be the same flow (and the same real server) on purpose, not by luck
_udp_ports = itertools.count(random.randrange(20000, 31000))


async def udp_request(host, port, source, timeout):
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        UdpClient, remote_addr=(host, port), local_addr=(source or "0.0.0.0", next(_udp_ports))
    )
    try:
        transport.sendto(b"hello")
        return [await asyncio.wait_for(proto.answer, timeout)]
    finally:
        transport.close()


async def run(args) -> dict:
    names: Counter = Counter()
    by_source: dict[str, Counter] = defaultdict(Counter)
    failures = 0
    errors: list[str] = []
    done = 0
    sources = itertools.cycle(args.sources.split(",") if args.sources else [""])
    deadline = time.monotonic() + args.duration if args.duration else None
    budget = itertools.count()

    def more() -> bool:
        if deadline is not None:
            return time.monotonic() < deadline
        return next(budget) < args.count

    async def worker():
        nonlocal failures, done
        while more():
            source = next(sources)
            try:
                if args.udp:
                    got = await udp_request(args.host, args.port, source, args.timeout)
                else:
                    got = await http_connection(args.host, args.port, source, args.path, args.keepalive, args.timeout)
                for name in got:
                    names[name] += 1
                    by_source[source][name] += 1
                done += len(got)
            except Exception as exc:
                failures += 1
                if len(errors) < 5:
                    errors.append(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return {
        "names": dict(names),
        "by_source": {k: dict(v) for k, v in by_source.items()},
        "failures": failures,
        "errors": errors,
        "requests": done,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--duration", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--sources", default="")
    parser.add_argument("--keepalive", type=int, default=1)
    parser.add_argument("--udp", action="store_true")
    parser.add_argument("--path", default="/")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
