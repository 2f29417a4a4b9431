"""``piranha lvsd``: the virtual server daemon, with the original lvsd's flags.

    lvsd [-c|--configfile FILE] [-n|--nodaemon] [-t|--test-start] [--nofork]
         [-v|--verbose] [--version] [--standby]

As the original: program name ``lvs`` (stdout lines ``lvs: ...`` with
``-n``), syslog ident ``lvsd`` otherwise, pid file ``/var/run/lvs.pid`` (as
root; elsewhere, and whenever PIRANHA_RUN_DIR is set, ``<run dir>/lvs.pid``).
``--nofork`` detaches (syslog, pid file, no terminal) without forking, which
is how pulse and systemd run it.  ``--standby`` (new) is the backup router's
lvsd: checks running, data plane programmed and listening on VIPs it does not
hold yet, switched to active by the control op ``activate``.  See docs/lvsd.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from piranha import __version__
from piranha.config import config_path
from piranha.runtime.daemon import PidFile, default_pid_file, detach
from piranha.runtime.limits import raise_fd_limit
from piranha.runtime.logsetup import setup_logging
from piranha.runtime.machine import machine_environment
from piranha.runtime.paths import ensure_run_dir, run_dir

from .common import read_config

PROGRAM_VERSION = "1.38"  # lvsd.c's last version number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lvsd",
        description="The LVS virtual server daemon: lvs.cf -> the virtual server table, "
        "health checks, sorry servers, reloads on SIGHUP.",
    )
    parser.add_argument(
        "-c",
        "--configfile",
        metavar="FILE",
        help="configuration file (default: $PIRANHA_CONFIG or /etc/sysconfig/ha/lvs.cf)",
    )
    parser.add_argument("-n", "--nodaemon", action="store_true", help="don't run as a daemon")
    parser.add_argument(
        "-t",
        "--test-start",
        action="store_true",
        help="display what would be set up, but don't actually run anything",
    )
    parser.add_argument(
        "--nofork", action="store_true", help="don't fork, but do disassociate (pulse, systemd)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="verbose (debug) output")
    parser.add_argument("--version", action="store_true", help="display program version")
    parser.add_argument(
        "--standby",
        action="store_true",
        help="standby (backup router): checks and data plane run before the VIPs arrive; "
        "the control op `activate` makes it active",
    )
    return parser


def version_text() -> str:
    return (
        f"Program Version:\t{PROGRAM_VERSION}\n"
        f"Built:\t\t\tpiranha {__version__} (Python)\n"
        f"A component of:\t\tpiranha-{__version__}\n"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        sys.stdout.write(version_text())
        return 0
    path = config_path(args.configfile)
    config = read_config(path, "lvs", machine_environment())
    if config is None:
        return 1
    foreground = args.nodaemon or args.test_start
    if args.test_start:
        from piranha.lvsd.teststart import run_test_start

        log = setup_logging("lvsd", foreground=True, verbose=args.verbose, prefix="lvs")
        return run_test_start(config, path, log)

    pidfile: PidFile | None = None
    if not foreground:
        detach(fork=not args.nofork)
        pidfile = PidFile(default_pid_file("lvs", run_dir()))
    log = setup_logging("lvsd", foreground=foreground, verbose=args.verbose, prefix="lvs")
    for warning in config.warnings:
        log.warning("%s", warning)
    if pidfile is not None:
        try:
            pidfile.acquire()
        except (RuntimeError, OSError) as exc:
            log.error("lvsd %s", exc)
            return 1
    ensure_run_dir()
    from piranha.lvsd.supervisor import Lvsd

    raise_fd_limit()  # thousands of checks and proxied connections
    daemon = Lvsd(config, path, log=log, standby=args.standby, environment=machine_environment())
    try:
        return asyncio.run(daemon.run())
    finally:
        if pidfile is not None:
            pidfile.release()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
