"""``piranha demo``: a load balancer on 127.0.0.1 in one command, no root needed.

Three small HTTP real servers (in this process, each answering with its
own name), lvsd with the userspace data plane in front of them on
127.0.0.1:8080 (wlc, weights 2/1/1, HTTP health checks), and the
Configuration Tool when it is installed — all in one process tree, with
lvs.cf and the run directory in a temporary directory.  Ctrl-C (or
SIGTERM) stops everything and removes the directory.

    piranha demo [--port 8080] [--no-gui] [--gui-port 3636]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from piranha.runtime.process import die_with_parent

ADDRESS = "127.0.0.1"
REAL_SERVER_PORTS = (8081, 8082, 8083)
WEIGHTS = (2, 1, 1)
GUI_PORT = 3636
READY_TIMEOUT = 30.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="piranha demo",
        description="Three real servers and a virtual server on 127.0.0.1 (userspace data plane).",
    )
    parser.add_argument("--port", type=int, default=8080, help="port of the virtual server (8080)")
    parser.add_argument("--no-gui", action="store_true", help="do not start the Configuration Tool")
    parser.add_argument(
        "--gui-port", type=int, default=GUI_PORT, help="port of the Configuration Tool (3636)"
    )
    return parser


def port_free(port: int, address: str = ADDRESS) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def free_port(preferred: int) -> int:
    """``preferred`` if nobody uses it, else one the kernel picks."""
    if port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((ADDRESS, 0))
        return sock.getsockname()[1]


def lvs_cf(port: int, real_ports: list[int]) -> str:
    servers = "".join(
        f"     server web{n} {{\n"
        f"         address = {ADDRESS}\n"
        "         active = 1\n"
        f"         port = {rport}\n"
        f"         weight = {weight}\n"
        "     }\n"
        for n, (rport, weight) in enumerate(zip(real_ports, WEIGHTS, strict=True), 1)
    )
    return (
        "# piranha demo: written by `piranha demo`, removed when it stops\n"
        "serial_no = 1\n"
        f"primary = {ADDRESS}\n"
        "service = lvs\n"
        "network = nat\n"
        f"nat_router = {ADDRESS} lo\n"
        "dataplane = userspace\n"
        "virtual demo {\n"
        "     active = 1\n"
        f"     address = {ADDRESS} lo\n"
        f"     port = {port}\n"
        '     send = "GET / HTTP/1.0\\r\\n\\r\\n"\n'
        '     expect = "HTTP/1.0 200"\n'
        "     scheduler = wlc\n"
        "     protocol = tcp\n"
        "     timeout = 2\n"
        "     reentry = 6\n"
        f"{servers}"
        "}\n"
    )


# -- the real servers ---------------------------------------------------------------


class RealServer(asyncio.Protocol):
    """Answers every request with one line naming itself, then closes (HTTP/1.0)."""

    def __init__(self, name: str, port: int) -> None:
        self.body = f"Hello from {name} (real server {ADDRESS}:{port})\n".encode()
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        complete = b"\r\n\r\n" in self.buffer or b"\n\n" in self.buffer
        if not complete and len(self.buffer) < 65536:
            return
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(self.body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + self.body
        )
        self.transport.close()


# -- the children (lvsd, the GUI) ---------------------------------------------------


class Children:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.preexec = die_with_parent

    def start(
        self, name: str, argv: list[str], env: dict[str, str], **kw: object
    ) -> subprocess.Popen[bytes]:
        # a session of its own: Ctrl-C reaches the demo only, which stops them in
        # order; and they die with the demo if it is killed outright
        proc = subprocess.Popen(  # type: ignore[call-overload]
            argv, env=env, start_new_session=True, preexec_fn=self.preexec, **kw
        )
        self.procs.append((name, proc))
        return proc

    def died(self) -> tuple[str, int] | None:
        for name, proc in self.procs:
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM each (newest first), wait, SIGKILL what is left: by PID only."""
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(5)


def wait_ready(notify: socket.socket, lvsd: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if lvsd.poll() is not None:
            return False
        notify.settimeout(0.2)
        try:
            if "READY=1" in notify.recv(4096).decode().splitlines():
                return True
        except TimeoutError:
            continue
    return False


def gui_available() -> str | None:
    """None if the Configuration Tool can run here, else why not."""
    for module in ("piranha.gui", "piranha.cli.gui", "uvicorn", "fastapi"):
        try:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed"
        except ImportError as exc:
            return str(exc)
    return None


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((ADDRESS, port), timeout=0.5):
            return True
        time.sleep(0.1)
    return False


async def serve(args: argparse.Namespace, workdir: Path, children: Children) -> int:
    loop = asyncio.get_running_loop()
    real_ports: list[int] = []
    servers = []
    for n, preferred in enumerate(REAL_SERVER_PORTS, 1):
        port = free_port(preferred)
        server = await loop.create_server(
            lambda n=n, port=port: RealServer(f"web{n}", port), ADDRESS, port, reuse_address=True
        )
        servers.append(server)
        real_ports.append(port)

    config = workdir / "lvs.cf"
    config.write_text(lvs_cf(args.port, real_ports))
    run_dir = workdir / "run"
    run_dir.mkdir(mode=0o700)
    env = {**os.environ, "PIRANHA_RUN_DIR": str(run_dir), "PIRANHA_CONFIG": str(config)}
    env.pop("NOTIFY_SOCKET", None)
    notify_path = workdir / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    python = sys.executable
    try:
        lvsd = children.start(
            "lvsd",
            [python, "-m", "piranha.cli.main", "lvsd", "-n", "-c", str(config)],
            {**env, "NOTIFY_SOCKET": str(notify_path)},
        )
        ready = await asyncio.to_thread(wait_ready, notify, lvsd)
    finally:
        notify.close()
    if not ready:
        print("piranha demo: lvsd did not start (see its lines above)", file=sys.stderr)
        return 1
    await wait_for_health(run_dir / "lvsd.sock", len(real_ports))

    gui_line = "  Configuration Tool: not started (--no-gui)"
    if not args.no_gui:
        why = gui_available()
        if why is not None:
            gui_line = f"  Configuration Tool: not available ({why})"
        else:
            gui_line = await asyncio.to_thread(start_gui, args, workdir, env, children)

    print(
        "\n"
        "piranha demo is running: a virtual server in front of three real servers.\n"
        f"  virtual server:   http://{ADDRESS}:{args.port}/  (wlc, weights 2/1/1, userspace data plane)\n"
        "  real servers:     "
        + ", ".join(f"web{n} {ADDRESS}:{p}" for n, p in enumerate(real_ports, 1))
        + "\n"
        f"{gui_line}\n"
        f"  lvs.cf:           {config}\n"
        "\n"
        "Try:\n"
        f"  curl http://{ADDRESS}:{args.port}/\n"
        f"  PIRANHA_RUN_DIR={run_dir} lvsadm -L -n --stats\n"
        f"  PIRANHA_RUN_DIR={run_dir} lvsadm -L -n -c\n"
        "\n"
        "Ctrl-C stops everything.\n",
        flush=True,
    )

    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    code = 0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        dead = children.died()
        if dead is not None and not stop.is_set():
            print(f"piranha demo: {dead[0]} exited ({dead[1]}); stopping", file=sys.stderr)
            code = 1
            break
    print("piranha demo: stopping", flush=True)
    await asyncio.to_thread(children.stop)
    for server in servers:
        server.close()
        await server.wait_closed()
    return code


async def wait_for_health(sock: Path, count: int, timeout: float = 15.0) -> None:
    """Until the first health checks have admitted the real servers (so curl works at once)."""
    from piranha.runtime.control import ControlError, acall

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ControlError, OSError):
            health = await acall(sock, "health")
            if sum(entry["state"] == "up" for entry in health) >= count:
                return
        await asyncio.sleep(0.2)


def start_gui(
    args: argparse.Namespace, workdir: Path, env: dict[str, str], children: Children
) -> str:
    password = secrets.token_urlsafe(12)
    passwd = workdir / "piranha.passwd"
    python = sys.executable
    done = subprocess.run(
        [python, "-m", "piranha.cli.main", "passwd", "--stdin", "--passwd-file", str(passwd)],
        input=(password + "\n").encode(),
        env=env,
        capture_output=True,
        timeout=60,
    )
    if done.returncode != 0:
        return f"  Configuration Tool: not started (piranha passwd: {done.stderr.decode().strip()})"
    port = free_port(args.gui_port)
    gui = children.start(
        "gui",
        [
            python, "-m", "piranha.cli.main", "gui",
            "-c", str(workdir / "lvs.cf"),
            "--listen", f"{ADDRESS}:{port}",
            "--passwd-file", str(passwd),
            "--api-token-file", str(workdir / "piranha-api.token"),
        ],
        env,
    )  # fmt: skip
    if not wait_listening(port, gui):
        return "  Configuration Tool: did not start (see its lines above)"
    return f"  Configuration Tool: http://{ADDRESS}:{port}/  user piranha, password {password}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.port <= 65535:
        print(f"piranha demo: --port {args.port} is not a port (1-65535)", file=sys.stderr)
        return 2
    if not port_free(args.port):
        print(
            f"piranha demo: {ADDRESS}:{args.port} is in use; choose another with --port",
            file=sys.stderr,
        )
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="piranha-demo-"))
    workdir.chmod(0o700)
    children = Children()
    try:
        return asyncio.run(serve(args, workdir, children))
    except KeyboardInterrupt:  # Ctrl-C before the handlers were in place
        return 130
    finally:
        children.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
