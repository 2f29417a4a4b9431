"""Each check against real loopback servers that answer, refuse, hang, reset and stutter."""

from __future__ import annotations

import asyncio
import os
import ssl
import stat
import sys
from dataclasses import replace
from pathlib import Path

from piranha.health.checks import run_probe
from piranha.health.checks.program import output_text, program_argv
from piranha.health.probe import build_probe
from piranha.health.spec import CheckSpec

from .servers import Blackhole, TcpServer, UdpServer, free_tcp_port, free_udp_port

TIMEOUT = 0.6


def spec(port: int, **kw) -> CheckSpec:
    base = CheckSpec(
        address="127.0.0.1",
        port=port,
        vport=port,
        protocol="tcp",
        send=None,
        expect=None,
        use_regex=False,
        send_program=None,
        tls=False,
        timeout=TIMEOUT,
    )
    return replace(base, **kw)


async def check(s: CheckSpec):
    return await run_probe(build_probe(s), s.address, s.port, s.timeout)


def run(coro):
    return asyncio.run(coro)


# --- TCP ---------------------------------------------------------------------------------------
def test_connect_only_up_and_refused_down():
    async def main():
        server = await TcpServer("close").start()
        up = await check(spec(server.port))
        await server.stop()
        down = await check(spec(server.port))
        return up, down, server.port

    up, down, port = run(main())
    assert up.ok
    assert not down.ok and down.reason == f"CONNECT to 127.0.0.1:{port} failed: Connection refused"


def test_connect_timeout_when_syns_go_unanswered():
    with Blackhole() as port:
        result = run(check(spec(port)))
    assert not result.ok and result.reason == f"CONNECT to 127.0.0.1:{port} timed out"


def test_send_expect_prefix_and_the_request_sent():
    async def main():
        server = await TcpServer("reply", b"HTTP/1.1 200 OK\r\n\r\n").start()
        r = await check(spec(server.port, send=r"GET / HTTP/1.0\r\n\r\n", expect="HTTP"))
        await server.stop()
        return r, server.requests

    r, requests = run(main())
    assert r.ok and requests == [b"GET / HTTP/1.0\r\n\r\n"]


def test_wrong_answer_is_down():
    async def main():
        server = await TcpServer("reply", b"SSH-2.0-OpenSSH\r\n").start()
        r = await check(spec(server.port, send="x", expect="HTTP"))
        await server.stop()
        return r, server.port

    r, port = run(main())
    assert not r.ok
    assert r.reason == f"Trouble. Received results are not what we expected from (127.0.0.1:{port})"


def test_a_reply_split_across_segments_still_matches():
    async def main():
        server = await TcpServer("fragments").start()
        server.fragments = [(0.0, b"22"), (0.1, b"0 ftp"), (0.1, b".example.com ready\r\n")]
        plain = await check(spec(server.port, expect="220 ftp.example"))
        rx = await check(spec(server.port, expect="example\\.com ready", use_regex=True))
        await server.stop()
        return plain, rx

    plain, rx = run(main())
    assert plain.ok and rx.ok


def test_short_reply_then_close():
    async def main():
        server = await TcpServer("fragments").start()
        server.fragments = [(0.0, b"22")]
        r = await check(spec(server.port, expect="220 ready"))
        await server.stop()
        return r, server.port

    r, port = run(main())
    assert not r.ok and r.reason == f"READ from 127.0.0.1:{port} was too short[2>=9]"


def test_slow_but_in_time_is_up_too_slow_is_down():
    async def main():
        server = await TcpServer("reply").start()
        server.delay = TIMEOUT / 4
        in_time = await check(spec(server.port, send="x", expect="HTTP"))
        server.delay = TIMEOUT * 3
        late = await check(spec(server.port, send="x", expect="HTTP"))
        await server.stop()
        return in_time, late, server.port

    in_time, late, port = run(main())
    assert in_time.ok
    assert not late.ok and late.reason == f"READ to 127.0.0.1:{port} timed out"


def test_hung_server_times_out_with_partial_data_reported():
    async def main():
        server = await TcpServer("fragments").start()
        server.fragments = [(0.0, b"HT"), (60.0, b"TP")]
        r = await check(spec(server.port, expect="HTTP"))
        await server.stop()
        return r, server.port

    r, port = run(main())
    assert not r.ok and r.reason == f"READ to 127.0.0.1:{port} timed out after 2 bytes"


def test_reset_is_down():
    async def main():
        server = await TcpServer("reset").start()
        r = await check(spec(server.port, expect="HTTP"))
        await server.stop()
        return r, server.port

    r, port = run(main())
    assert not r.ok
    assert r.reason in (
        f"READ from 127.0.0.1:{port} returned error 104:Connection reset by peer",
        f"READ from 127.0.0.1:{port} was too short[0>=4]",
    )


def test_seed_ftp_example_send_quit_expect_220():
    # RHEL 6 guide 4.6.3: "FTP reports 220 upon connecting, so could enter quit in
    # the Send field and 220 in the Expect field."
    async def main():
        server = await TcpServer("banner", b"220 (vsFTPd 2.2.2)\r\n").start()
        r = await check(spec(server.port, vport=21, send="quit", expect="220"))
        await asyncio.sleep(0.05)
        await server.stop()
        return r, server.requests

    r, requests = run(main())
    assert r.ok and requests == [b"quit"]


def test_seed_http_default_on_port_80():
    async def main():
        server = await TcpServer("reply", b"HTTP/1.0 404 Not Found\r\n\r\n").start()
        r = await check(spec(server.port, vport=80))
        await server.stop()
        return r, server.requests

    r, requests = run(main())
    assert r.ok and requests == [b"GET / HTTP/1.0\r\n\r\n"]  # any HTTP answer is up


def test_host_names_are_resolved():
    async def main():
        server = await TcpServer("close").start()
        r = await check(spec(server.port, address="localhost"))
        await server.stop()
        return r

    assert run(main()).ok


# --- TLS ---------------------------------------------------------------------------------------
def test_tls_send_expect_without_verifying_the_certificate(tls_files):
    cert, key = tls_files

    async def main():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        seen = []

        async def handle(reader, writer):
            seen.append(await reader.read(100))
            writer.write(b"HTTP/1.0 200 OK\r\n\r\nhealthy")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
        port = server.sockets[0].getsockname()[1]
        ok = await check(
            spec(
                port,
                tls=True,
                send=r"GET /health HTTP/1.0\r\n\r\n",
                expect="healthy",
                use_regex=True,
            )
        )
        handshake_only = await check(spec(port, tls=True))
        plain = await check(spec(port, send="GET / HTTP/1.0\r\n\r\n", expect="HTTP"))
        server.close()
        await server.wait_closed()
        return ok, handshake_only, plain, seen

    ok, handshake_only, plain, seen = run(main())
    assert ok.ok and handshake_only.ok
    assert seen[0] == b"GET /health HTTP/1.0\r\n\r\n"
    assert not plain.ok  # a plain-text probe of a TLS port gets no HTTP answer


def test_tls_to_a_plain_server_fails_the_handshake():
    async def main():
        server = await TcpServer("reply", b"HTTP/1.0 200 OK\r\n\r\n").start()
        r = await check(spec(server.port, tls=True))
        await server.stop()
        return r, server.port

    r, port = run(main())
    assert not r.ok and r.reason.startswith(f"TLS handshake with 127.0.0.1:{port} ")


# --- UDP ---------------------------------------------------------------------------------------
def test_udp_send_expect():
    async def main():
        server = await UdpServer("echo").start()
        good = await check(spec(server.port, protocol="udp", send="ping", expect="ping"))
        bad = await check(spec(server.port, protocol="udp", send="ping", expect="pong"))
        await server.stop()
        return good, bad

    good, bad = run(main())
    assert good.ok and not bad.ok


def test_udp_without_expect_any_datagram_back_is_up():
    async def main():
        server = await UdpServer("reply", b"!").start()
        r = await check(spec(server.port, protocol="udp"))
        await server.stop()
        return r, server.received

    r, received = run(main())
    assert r.ok and received == [b""]  # an empty probe datagram, any answer


def test_udp_port_unreachable_is_down():
    port = free_udp_port()
    r = run(check(spec(port, protocol="udp", send="ping")))
    assert not r.ok
    assert r.reason == (
        f"READ from 127.0.0.1:{port} returned error 111:Connection refused (ICMP port unreachable)"
    )


def test_udp_silence_times_out():
    async def main():
        server = await UdpServer("silent").start()
        r = await check(spec(server.port, protocol="udp", send="ping"))
        await server.stop()
        return r, server.port

    r, port = run(main())
    assert not r.ok and r.reason == f"READ to 127.0.0.1:{port} timed out"


# --- send_program -------------------------------------------------------------------------------
def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_percent_h_and_p_are_replaced_inside_words_too():
    assert program_argv("/bin/check -u http://%h:%p/ %h %p", "10.0.0.2", 8080) == [
        "/bin/check", "-u", "http://10.0.0.2:8080/", "10.0.0.2", "8080",
    ]  # fmt: skip


def test_only_one_trailing_newline_is_dropped():
    assert output_text(b"OK\n") == "OK"
    assert output_text(b"OK\r\n") == "OK"
    assert output_text(b"OK") == "OK"  # the original dropped the K
    assert output_text(b"OK\n\n") == "OK\n"


def test_seed_dns_script_pattern(tmp_path):
    # The RHEL 6 guide's 4.6.3 example: a script given %h that echoes OK or FAIL,
    # with expect = OK.  (The guide's own script has its test inverted and a quote
    # missing; this one asks a UDP "DNS" server for the SOA and checks the answer.)
    check_dns = script(
        tmp_path,
        "check_dns",
        "import socket, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)\n"
        "try:\n"
        "    s.sendto(b'soa example.com', (sys.argv[1], int(sys.argv[2])))\n"
        "    answer = s.recv(100)\n"
        "except OSError:\n"
        "    answer = b''\n"
        "print('OK' if b'dns.example.com' in answer else 'FAIL')\n",
    )

    async def main():
        dns = await UdpServer("reply", b"example.com SOA dns.example.com").start()
        s = spec(dns.port, send_program=f"{check_dns} %h %p", expect="OK", timeout=5.0)
        up = await check(s)
        dns.reply = b"example.com SOA other.example.net"
        wrong = await check(s)
        await dns.stop()
        return up, wrong, dns.port

    up, wrong, port = run(main())
    assert up.ok
    assert not wrong.ok
    assert (
        wrong.reason
        == f"Trouble. Received results are not what we expected from (127.0.0.1:{port})"
    )


def test_program_failure_or_timeout_is_down_even_with_expect(tmp_path):
    failing = script(tmp_path, "failing", "print('OK'); raise SystemExit(2)\n")
    hanging = script(tmp_path, "hanging", "import time; print('OK', flush=True); time.sleep(60)\n")
    port = free_tcp_port()
    r1 = run(check(spec(port, send_program=str(failing), expect="OK")))
    r2 = run(check(spec(port, send_program=str(hanging), expect="OK", timeout=0.5)))
    r3 = run(check(spec(port, send_program="/nonexistent/check %h", expect="OK")))
    assert not r1.ok and r1.reason.endswith("exited with status 2")
    assert not r2.ok and "timed out" in r2.reason
    assert not r3.ok and "cannot run /nonexistent/check" in r3.reason


def test_program_without_expect_is_judged_by_its_exit_status(tmp_path):
    good = script(tmp_path, "good", "print('anything')\n")
    bad = script(tmp_path, "bad", "raise SystemExit(1)\n")
    port = free_tcp_port()
    assert run(check(spec(port, send_program=str(good)))).ok
    assert not run(check(spec(port, send_program=str(bad)))).ok


def test_a_hung_program_is_killed_with_its_children(tmp_path):
    marker = tmp_path / "grandchild.pid"
    parent = script(
        tmp_path,
        "parent",
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n",
    )
    r = run(check(spec(free_tcp_port(), send_program=str(parent), timeout=1.0)))
    assert not r.ok
    pid = int(marker.read_text())
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        run(asyncio.sleep(0.02))
    else:
        raise AssertionError("the check's grandchild survived the timeout")


def test_no_shell_is_involved(tmp_path):
    echo = script(tmp_path, "echo_args", "import sys; print(' '.join(sys.argv[1:]))\n")
    r = run(check(spec(free_tcp_port(), send_program=f"{echo} $(id) ;", expect="$(id) ;")))
    assert r.ok
