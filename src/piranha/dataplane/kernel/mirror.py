"""The connection table as the kernel reports it, for ``lvsadm -L -c`` and the GUI.

With a kernel data plane the kernel owns the connections: lvsd's table
only mirrors them.  :class:`KernelConnections` takes the place of the
table's :class:`~piranha.table.connections.ConnectionTable` and answers
with the latest snapshot the backend read (conntrack entries, direct
routing flows, persistence templates).  It never schedules: asking it to
is a programming error.
"""

from __future__ import annotations

from collections.abc import Callable

from piranha.table.connections import ConnectionTable
from piranha.table.model import Connection, Destination, Service, VirtualTable


class KernelConnections(ConnectionTable):
    def __init__(self, table: VirtualTable) -> None:
        super().__init__(table)
        self._snapshot: list[Connection] = []
        self._pending: list[Callable[[], list[Connection]]] = []

    def replace(self, entries: list[Connection], pending: list[Callable[[], list[Connection]]] | None = None) -> None:
        """The new snapshot; ``pending`` builds more entries when somebody lists them.

        Parsing every conntrack entry into a Connection costs microseconds
        each; most refreshes only need the counts, so the entries are built
        on the first listing (``lvsadm -L -c``) of each snapshot.
        """
        self._snapshot = entries
        self._pending = list(pending or [])

    def _materialize(self) -> list[Connection]:
        if self._pending:
            built = list(self._snapshot)
            for build in self._pending:
                built += build()
            self._snapshot, self._pending = built, []
        return self._snapshot

    def entries(self) -> list[Connection]:
        return list(self._materialize())

    def __len__(self) -> int:
        return len(self._materialize())

    def lookup(self, protocol: int, caddr: str, cport: int, vaddr: str, vport: int) -> Connection | None:
        for conn in self._materialize():
            if (conn.protocol, conn.caddr, conn.cport, conn.vaddr, conn.vport) == (
                protocol,
                caddr,
                cport,
                vaddr,
                vport,
            ) and not conn.template:
                return conn
        return None

    def schedule(self, svc: Service, *args, **kwargs) -> Connection | None:  # type: ignore[override]
        raise RuntimeError("the kernel data plane schedules connections itself")

    def flush_dest(self, dest: Destination, now: float) -> list[Connection]:
        # The backend drops the kernel's entries of removed servers when it
        # converges (expire_nodest_conn, UDP); nothing to close here.
        return []

    def expire(self, now: float) -> list[Connection]:
        self.table.purge_trash(now)
        return []
