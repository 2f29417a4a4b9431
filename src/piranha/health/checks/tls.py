"""The TCP probe over TLS (``check_tls = 1``): connect, handshake, send, read.

As the plain TCP probe (checks/sockets.py), over TLS: one deadline for the
whole check, a reply read until ``expect`` is decided.  Without send and
expect a completed handshake means up.  Certificates are not verified: this
is a liveness check, not an authentication.  asyncio streams carry the TLS
(a coroutine per check; TLS checks are the exception, not the bulk).
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from ..expect import Verdict
from ..probe import Probe
from .messages import CONNECT, HANDSHAKE, READ, WRITE, failed, judged, timed_out
from .result import CheckResult

READ_CHUNK = 65536


def _tls_context() -> ssl.SSLContext:
    # A liveness check, not an authentication: certificates are not
    # verified (expired or self-signed certificates on real servers are
    # common and say nothing about whether they serve).
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


_TLS = _tls_context()


async def tls_check(probe: Probe, address: str, port: int, timeout: float) -> CheckResult:
    where = f"{address}:{port}"
    phase = CONNECT
    data = bytearray()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            loop = asyncio.get_running_loop()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (address, port))
            except BaseException:
                sock.close()
                raise
            phase = HANDSHAKE
            # From here the transport owns the socket and closes it.
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=_TLS, server_hostname=_sni(address)
            )
            if probe.send:
                phase = WRITE
                writer.write(probe.send)
                await writer.drain()
            if probe.expectation is None:
                return CheckResult.up()
            phase = READ
            while True:
                chunk = await reader.read(READ_CHUNK)
                data += chunk
                verdict = probe.expectation.judge(bytes(data), closed=not chunk)
                if verdict is not Verdict.MORE:
                    return judged(verdict, probe.expectation, where, len(data))
    except TimeoutError:
        return CheckResult.down(timed_out(phase, where, len(data)))
    except OSError as exc:  # ssl.SSLError included
        return CheckResult.down(failed(phase, where, exc))
    finally:
        if writer is not None:
            writer.transport.abort()


def _sni(address: str) -> str:
    """Server name for SNI: a host name as configured; none for an address."""
    try:
        socket.inet_aton(address)
    except OSError:
        return address
    return ""
