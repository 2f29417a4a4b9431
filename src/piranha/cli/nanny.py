"""``piranha nanny``: health-check one real server, with nanny 0.8.6's command line.

Operators use it to try a check from the shell::

    piranha nanny -n --test-start --lvs -h 10.0.0.2 -p 80 -V 192.168.0.100 -t 2

Every option of the original is accepted, in both spellings where its man
page and code disagree (``--send_str``/``--send_string``,
``--expect_str``/``--expect_string``, ``--quiesce-server``/``--quiesce_server``,
``--lvs``/``--lvsd``).  Without ``--test-start`` the table commands go to
lvsd's control socket (``lvsadm`` requests); with it they are only logged.
SIGUSR1 / SIGUSR2 / SIGHUP force the server down / up / resume; SIGTERM
withdraws an admitted server and exits 0.  ``--fos`` watches a partner's
service and exits 0 when it is lost, 1 when it never came (pulse uses it).

The manual is docs/nanny.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from piranha import __version__
from piranha.config.values import inet_aton, strtol
from piranha.health import CheckSpec, Monitor, MonitorSpec, cancel_and_wait
from piranha.health.commands import (
    DEFAULT_IPVSADM,
    LoggedCommands,
    LvsdCommands,
    ServiceTarget,
    TableCommands,
    routing_method,
)
from piranha.health.probe import build_probe
from piranha.runtime.daemon import daemonize
from piranha.runtime.logsetup import setup_logging
from piranha.runtime.paths import socket_path
from piranha.table.ipvsadm.popt import ERROR_TEXTS, Option, OptionSpec, PoptContext

PROG = "nanny"
NANNY_VERSION = "1.46"

_O = OptionSpec
OPTIONS: tuple[OptionSpec, ...] = (
    _O("interval", "t", "interval", True),
    _O("ipvsadm", "I", "ipvsadm", True),
    _O("loadcmd", "U", "loadcmd", True),
    _O("method", "M", "method", True),
    _O("nodaemon", "n", "nodaemon"),
    _O("nofork", "c", "nofork"),
    _O("port", "p", "port", True),
    _O("rport", "r", "rport", True),
    _O("reentrytime", "a", "reentrytime", True),
    _O("scale", "S", "scale", True),
    _O("server", "h", "server", True),
    _O("send_program", "e", "send_program", True),
    _O("send_string", "s", "send", True),
    _O("send_str", None, "send", True),  # the man page's spelling
    _O("expect_string", "x", "expect", True),
    _O("expect_str", None, "expect", True),  # the man page's spelling
    _O("regex", None, "regex"),
    _O("suppress", "T", "suppress"),
    _O("quiesce_server", "q", "quiesce"),
    _O("quiesce-server", None, "quiesce"),  # the man page's spelling
    _O("udp", "u", "udp"),
    _O("verbose", "v", "verbose"),
    _O("virtaddress", "V", "virtaddress", True),
    _O("fwmark", "f", "fwmark", True),
    _O("weight", "w", "weight", True),
    _O("test-start", None, "teststart"),
    _O("norun", None, "teststart"),
    _O("version", None, "version"),
    _O("fos", None, "fos"),
    _O("lvs", None, "lvs"),
    _O("lvsd", None, "lvs"),  # the man page's spelling
    # piranha's additions
    _O("tls", None, "tls"),
    _O("socket", None, "socket", True),
    _O("help", "?", "help"),
    _O("usage", None, "help"),
)

HELP = """\
Usage: nanny [OPTION...]
  -t, --interval=SECONDS          seconds between connection attempts, and
                                  the timeout of one check (default 10)
  -I, --ipvsadm=PATH              name of ipvsadm in logged commands
                                  (default /sbin/ipvsadm)
  -U, --loadcmd=COMMAND           command to get remote load average (rup,
                                  ruptime, rsh, ssh, uptime, none)
  -M, --method=m|g|i              routing method: NAT, gatewaying (direct
                                  routing), ipip (default m)
  -n, --nodaemon                  don't run as a daemon; log to stdout
  -c, --nofork                    don't fork, but do disassociate
  -p, --port=PORT                 port on virtual service (default 80)
  -r, --rport=PORT                port to check for availability (default: -p)
  -a, --reentrytime=SECONDS       seconds to wait before readmitting a
                                  machine (default 180; --fos: the interval)
  -S, --scale=N                   maximum scale to weight load average by (10)
  -h, --server=ADDRESS            IP address of remote server (required)
  -e, --send_program=COMMAND      use an external program to test a service
                                  (%h = server address, %p = port)
  -s, --send_string=STRING        string to send to port to test connectivity
                                  (also --send_str)
  -x, --expect_string=STRING      response string to receive after connecting
                                  to port (also --expect_str)
      --regex                     interpret expect_string as a regular
                                  expression
  -T, --suppress                  suppress '\\' translation in send/expect
                                  strings
  -q, --quiesce_server            quiesce server when service monitoring
                                  times out (also --quiesce-server)
  -u, --udp                       use UDP instead of TCP
  -v, --verbose                   log debugging information
  -V, --virtaddress=ADDRESS       IP of virtual service
  -f, --fwmark=MARK               firewall mark of virtual service
  -w, --weight=N                  weight of remote server (default 1)
      --test-start, --norun       don't change the table, log the commands
      --version                   display program version
      --lvs, --lvsd               LVS service (real server of a virtual server)
      --fos                       failover service (watch the partner router)
      --tls                       send/expect over TLS (piranha)
      --socket=PATH               lvsd's control socket (piranha; default
                                  $PIRANHA_RUN_DIR/lvsd.sock)
  -?, --help                      show this help
"""


class UsageError(Exception):
    """A command line nanny refuses; str() is the message (without "nanny: ")."""


@dataclass
class Options:
    interval: float = 10.0
    ipvsadm: str = DEFAULT_IPVSADM
    loadcmd: str = "none"
    method: str = "-m"
    nodaemon: bool = False
    nofork: bool = False
    port: int = 80
    rport: int | None = None
    reentry: float = 0.0
    scale: int = 10
    server: str | None = None
    send_program: str | None = None
    send: str | None = None
    expect: str | None = None
    regex: bool = False
    suppress: bool = False
    quiesce: bool = False
    udp: bool = False
    verbose: bool = False
    virtaddress: str | None = None
    fwmark: int = 0
    weight: int = 1
    test_start: bool = False
    version: bool = False
    fos: bool = False
    lvs: bool = False
    tls: bool = False
    socket: str | None = None
    help: bool = False


def _int(word: str, text: str) -> int:
    try:
        return strtol(text)[0]
    except ValueError:
        raise UsageError(f"bad argument {word}: invalid numeric value") from None


def _seconds(word: str, text: str) -> float:
    """A whole number as popt read it (010 is octal), or (piranha) a decimal like 0.5."""
    try:
        return float(strtol(text)[0])
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"bad argument {word}: invalid numeric value") from None
    if not math.isfinite(value):
        raise UsageError(f"bad argument {word}: invalid numeric value")
    return value


def parse_options(argv: list[str]) -> Options:
    """nanny's command line (popt, as the original).  Raises UsageError."""
    ctx = PoptContext(OPTIONS, [PROG, *argv])
    opts = Options()
    while True:
        got = ctx.get_next()
        if isinstance(got, int):
            if got == -1:
                break
            raise UsageError(f"bad argument {ctx.bad_option()}: {ERROR_TEXTS.get(got, 'error')}")
        _apply(opts, got, ctx.bad_option())
    if ctx.get_arg() is not None:
        raise UsageError("unexpected arguments")
    return opts


def _apply(opts: Options, option: Option, word: str) -> None:
    tag, arg = option.tag, option.arg or ""
    flags = {
        "nodaemon", "nofork", "regex", "suppress", "quiesce", "udp", "verbose",
        "version", "fos", "lvs", "tls", "help",
    }  # fmt: skip
    if tag in flags:
        setattr(opts, tag, True)
    elif tag == "teststart":
        opts.test_start = True
    elif tag == "interval":
        opts.interval = _seconds(word, arg)
    elif tag == "reentrytime":
        opts.reentry = _seconds(word, arg)
    elif tag in ("port", "rport", "scale", "fwmark", "weight"):
        setattr(opts, tag, _int(word, arg))
    elif tag == "method":
        opts.method = routing_method(arg)
    else:  # ipvsadm, loadcmd, server, send_program, send, expect, virtaddress, socket
        setattr(opts, tag, arg)


def build_spec(opts: Options) -> MonitorSpec:
    """The monitor the options describe.  Raises UsageError for what cannot run."""
    if opts.server is None:
        raise UsageError("No address supplied. Use '--help' for help.")
    address = inet_aton(opts.server)
    if address is None:
        raise UsageError(f"bad IP address -- {opts.server}")
    if not opts.fos and not opts.lvs:
        raise UsageError("unknown service type")
    if opts.interval <= 0:
        raise UsageError("--interval must be more than 0 seconds")
    for name, value in (("port", opts.port), ("rport", opts.rport)):
        if value is not None and not 1 <= value <= 65535:
            raise UsageError(f"--{name} {value} is not a port (1-65535)")
    if opts.fos:
        vip = opts.virtaddress or address
    else:
        if opts.virtaddress is None and not opts.fwmark:
            raise UsageError("no virtual address: give -V (or -f for a firewall-mark service)")
        vip = opts.virtaddress or ""
    reentry = opts.reentry or (opts.interval if opts.fos else 180.0)
    rport = opts.port if opts.rport is None else opts.rport
    check = CheckSpec(
        address=address,
        port=rport,
        vport=opts.port,
        protocol="udp" if opts.udp else "tcp",
        send=opts.send,
        expect=opts.expect,
        use_regex=opts.regex,
        send_program=opts.send_program,
        tls=opts.tls,
        timeout=opts.interval,
        translate_escapes=not opts.suppress,
    )
    spec = MonitorSpec(
        check=check,
        label="",
        vip=vip,
        reentry=reentry,
        quiesce=opts.quiesce,
        weight=opts.weight,
        load_monitor=None if opts.loadcmd == "none" else opts.loadcmd,
        rsh_command="rsh",
        scale=opts.scale,
        lvs_mode=not opts.fos,
    )
    error = build_probe(check).error
    if error is not None:
        raise UsageError(error)
    return spec


def version_line() -> str:
    return f"nanny {NANNY_VERSION} (piranha {__version__})"


def main(argv: list[str]) -> int:
    try:
        opts = parse_options(argv)
        if opts.help:
            sys.stdout.write(HELP)
            return 0
        if opts.version:
            print(version_line())
            return 0
        spec = build_spec(opts)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    if not opts.nodaemon:
        if opts.nofork:
            _disassociate()
        else:
            daemonize()
    log = setup_logging(PROG, foreground=opts.nodaemon, verbose=opts.verbose)
    return asyncio.run(_run(spec, opts, log))


def _disassociate() -> None:
    """``--nofork``: stay this process, but leave the terminal (stdio to /dev/null)."""
    with contextlib.suppress(OSError):
        os.setsid()
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


def _actions(spec: MonitorSpec, opts: Options, log: logging.Logger) -> TableCommands | None:
    if opts.fos:
        return None
    target = ServiceTarget(
        vip=spec.vip,
        vport=spec.check.vport,
        address=spec.check.address,
        rport=spec.check.port,
        udp=opts.udp,
        fwmark=opts.fwmark,
        method=opts.method,
    )
    if opts.test_start:
        return LoggedCommands(target, log, opts.ipvsadm)
    path = Path(opts.socket) if opts.socket else socket_path("lvsd")
    return LvsdCommands(target, path, log, opts.ipvsadm)


async def _run(spec: MonitorSpec, opts: Options, log: logging.Logger) -> int:
    loop = asyncio.get_running_loop()
    actions = _actions(spec, opts, log)
    monitor = Monitor(spec, actions, log=log, start_delay=0)
    task = asyncio.create_task(monitor.run())
    terminated: asyncio.Future[int] = loop.create_future()
    for signum, mode in (
        (signal.SIGUSR1, "down"),
        (signal.SIGUSR2, "up"),
        (signal.SIGHUP, "resume"),
    ):
        loop.add_signal_handler(signum, monitor.force, mode)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(
            signum, lambda n=signum: terminated.done() or terminated.set_result(n)
        )
    await asyncio.wait([task, terminated], return_when=asyncio.FIRST_COMPLETED)
    if task.done():  # fos: the watch ended
        return 0 if monitor.outcome == "lost" else 1
    log.info("Terminating due to signal %d", terminated.result())
    await cancel_and_wait(task)  # also kills a running send_program
    if monitor.active and actions is not None:
        # As the original: remove an admitted server; a quiesced (weight 0)
        # entry is left in place.
        try:
            await actions.withdraw(False)
        except Exception as exc:
            log.info("%s", exc)
            return 1
    return 0
