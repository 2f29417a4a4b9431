"""Helpers for the ipvsadm language tests: tables and shell-like calls."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from piranha.table import model
from piranha.table.ipvsadm import Result, run


@dataclass
class ConnectionsDouble:
    """Stands in for ConnectionTable where only its listing matters.

    Lets a test list entries with exact states and deadlines without driving
    the real table through packets.
    """

    items: list[model.Connection] = field(default_factory=list)
    flushed: list[model.Destination] = field(default_factory=list)

    def entries(self) -> list[model.Connection]:
        return list(self.items)

    def flush_dest(self, dest: model.Destination, now: float) -> None:
        self.flushed.append(dest)


def new_table() -> model.VirtualTable:
    return model.VirtualTable()


def sh(table: model.VirtualTable, line: str, **kwargs: object) -> Result:
    """Run one command line written as in a shell."""
    return run(table, shlex.split(line), **kwargs)  # type: ignore[arg-type]


def ok(table: model.VirtualTable, *lines: str) -> None:
    for line in lines:
        result = sh(table, line)
        assert result.exit_code == 0, (line, result)


def reference_table(table: model.VirtualTable) -> model.VirtualTable:
    """The table of the reference's §7.3–7.6 examples."""
    ok(
        table,
        "-A -t 192.168.1.100:80 -s wlc -p 60 -M 255.255.255.0",
        "-a -t 192.168.1.100:80 -r 10.0.0.2:80 -m -w 1",
        "-a -t 192.168.1.100:80 -r 10.0.0.3:80 -m -w 2",
        "-A -u 192.168.1.100:53 -s rr",
        "-a -u 192.168.1.100:53 -r 10.0.0.2:53 -m -w 1",
        "-A -f 100 -s wlc -p 300",
        "-a -f 100 -r 10.0.0.4:0 -g -w 1",
    )
    return table
