"""``piranha pulse``: the heartbeat and failover daemon, with the original's flags.

    pulse [-c|--configfile FILE] [-n|--nodaemon] [-t|--test-start] [--norun]
          [-v|--verbose] [--forceactive] [--lvsd PATH] [--lvs PATH] [--fos PATH]
          [--version] [--nofork] [--delay SECONDS|random] [--cleanup]

The last three are new: ``--nofork`` stays in the foreground but logs to
syslog like a daemon (systemd's Type=notify), ``--delay`` waits before
starting (RHEL's /etc/sysconfig/pulse ``DELAY=``), ``--cleanup`` removes the
addresses a killed pulse left behind and exits (the unit's ExecStopPost).
The manual is docs/pulse.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

from piranha import __version__
from piranha.config import config_path
from piranha.runtime.daemon import PidFile, default_pid_file, detach
from piranha.runtime.logsetup import setup_logging
from piranha.runtime.paths import ensure_run_dir, run_dir

from .common import read_config

PROGRAM_VERSION = "1.56"  # pulse.c's last version number


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pulse",
        description="Heartbeat and failover daemon of the LVS routers: watches the partner "
        "router, takes over the virtual IPs and starts lvsd when it dies.",
    )
    p.add_argument(
        "-c",
        "--configfile",
        metavar="FILE",
        help="configuration file (default: $PIRANHA_CONFIG or /etc/sysconfig/ha/lvs.cf)",
    )
    p.add_argument("-n", "--nodaemon", action="store_true", help="don't run as a daemon")
    p.add_argument("-t", "--test-start", action="store_true", help="don't actually run lvs or fos")
    p.add_argument("--norun", action="store_true", help="same as --test-start")
    p.add_argument("-v", "--verbose", action="store_true", help="display debugging information")
    p.add_argument("--forceactive", action="store_true", help="force into the active state")
    p.add_argument(
        "--lvsd",
        "--lvs",
        dest="lvsd",
        metavar="PATH",
        help="lvsd program to run (default: this piranha's lvsd)",
    )
    p.add_argument(
        "--fos",
        metavar="PATH",
        help="accepted for compatibility; failover services run inside pulse",
    )
    p.add_argument("--version", action="store_true", help="display program version")
    p.add_argument(
        "--nofork", action="store_true", help="don't fork, but log to syslog (systemd Type=notify)"
    )
    p.add_argument(
        "--delay",
        metavar="SECONDS|random",
        default="",
        help="wait before starting (random: 0.0-4.9 s), as /etc/sysconfig/pulse DELAY=",
    )
    p.add_argument(
        "--cleanup",
        action="store_true",
        help="remove addresses an earlier pulse left behind, then exit",
    )
    return p  # fmt: skip


def version_text() -> str:
    return (
        f"Program Version:\tpulse {PROGRAM_VERSION}\n"
        f"Built:\t\t\tpiranha {__version__} (Python)\n"
        f"A component of:\t\tpiranha-{__version__}\n"
    )


def _delay_seconds(text: str) -> float:
    text = text.strip()
    if not text:
        return 0.0
    if text == "random":
        return random.randrange(50) / 10  # RHEL's 0.0-4.9 s
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--delay wants seconds or `random`, not {text!r}") from None
    if not 0 <= value <= 3600:
        raise ValueError("--delay must be between 0 and 3600 seconds")
    return value


def _cleanup(directory: Path) -> int:
    from piranha.ha.addresses import AddressError, AddressKeeper

    keeper = AddressKeeper(directory / "pulse-addresses.json")
    try:
        for fa in keeper.remove_all():
            print(f"pulse: removed {fa.describe()} ({fa.purpose})")
    except AddressError as exc:
        print(f"pulse: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        sys.stdout.write(version_text())
        return 0
    directory = run_dir()
    if args.cleanup:
        return _cleanup(directory)
    try:
        delay = _delay_seconds(args.delay)
    except ValueError as exc:
        print(f"pulse: {exc}", file=sys.stderr)
        return 2
    if delay:
        time.sleep(delay)
    path = config_path(args.configfile)
    config = read_config(path, "pulse")
    if config is None:
        return 1

    from piranha.ha.heartbeat import BindError
    from piranha.ha.pulse import Options, Pulse, StartupError, local_addresses

    foreground = args.nodaemon
    options = Options(
        config_path=path.resolve(),
        foreground=foreground,
        daemon=not foreground,
        verbose=args.verbose,
        test_start=args.test_start or args.norun,
        force_active=args.forceactive,
        lvsd_command=[args.lvsd] if args.lvsd else [sys.executable, "-m", "piranha.cli.main", "lvsd"],
        run_dir=directory,
    )
    log = setup_logging("pulse", foreground=True, verbose=args.verbose, stream=sys.stderr)
    pulse = Pulse(config, options, log)
    try:
        pulse.bind(local_addresses())
    except (StartupError, BindError) as exc:
        print(f"pulse: {exc}", file=sys.stderr)
        return 1
    if args.fos:
        print("pulse: --fos ignored: failover services run inside pulse", file=sys.stderr)
    pidfile: PidFile | None = None
    if not foreground:
        detach(fork=not args.nofork)
        pidfile = PidFile(default_pid_file("pulse", directory))
    pulse.log = setup_logging("pulse", foreground=foreground, verbose=args.verbose)
    for warning in config.warnings:
        pulse.log.warning("%s", warning)
    if pidfile is not None:
        try:
            pidfile.acquire()
        except (RuntimeError, OSError) as exc:
            pulse.log.error("pulse %s", exc)
            return 1
    ensure_run_dir()
    try:
        return asyncio.run(pulse.run())
    finally:
        if pidfile is not None:
            pidfile.release()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
