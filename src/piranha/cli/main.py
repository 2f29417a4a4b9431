"""`piranha`: every daemon and tool of the LVS Load Balancer Add-On as a subcommand.

Each subcommand lives in its own module under ``piranha.cli`` and exposes
``main(argv: list[str]) -> int``; this module only dispatches, so one
command's imports never slow down another.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

from piranha import __version__

# name -> (module, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("piranha.cli.check", "validate lvs.cf (exit 0, or 2 with FILE:LINE:COL lines)"),
    "format": ("piranha.cli.format", "print lvs.cf in the canonical layout"),
    "lvsd": ("piranha.cli.lvsd", "the virtual server daemon"),
    "nanny": ("piranha.cli.nanny", "health-check one real server"),
    "pulse": ("piranha.cli.pulse", "heartbeat and failover daemon"),
    "send-arp": ("piranha.cli.send_arp", "send a gratuitous ARP (send_arp)"),
    "gui": ("piranha.cli.gui", "the Piranha Configuration Tool (port 3636)"),
    "passwd": ("piranha.cli.passwd", "set the Configuration Tool password (piranha-passwd)"),
    "demo": ("piranha.cli.demo", "three real servers and a virtual server on loopback"),
    "realserver": ("piranha.cli.realserver", "real-server setup for direct routing"),
    "import": ("piranha.cli.importer", "convert another balancer's configuration to lvs.cf"),
}


def _usage() -> str:
    lines = ["usage: piranha COMMAND [ARGS...]", "", "commands:"]
    for name, (module, summary) in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            lines.append(f"  {name:<11} {summary}")
    lines += ["", "`piranha COMMAND --help` describes one command; `lvsadm` is the ipvsadm tool."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        print(f"piranha {__version__}")
        return 0
    name, rest = args[0], args[1:]
    entry = COMMANDS.get(name)
    if entry is None or importlib.util.find_spec(entry[0]) is None:
        print(f"piranha: unknown command `{name}`", file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return 2
    module = importlib.import_module(entry[0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
