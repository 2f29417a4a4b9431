"""What the kernel knows, turned back into the table's terms.

* **Counters** — every real server's mark is an element of ``@cnt_conn``
  (new connections), ``@cnt_in`` (packets and bytes towards the real
  servers) and, for NAT, ``@cnt_out`` (replies); each element carries its
  own counter.  They grow from 0 when a server is added, so the backend
  adds each read's growth to the table's statistics (``lvsadm -Z`` keeps
  working).
* **Connections** — NAT: the conntrack entries carrying a piranha mark;
  direct routing: the ``@flows_tcp``/``@flows_udp`` entries (``@closing``
  says a FIN or RST was seen).  States are mapped to IPVS's names.
* **Persistence templates** — the ``persist_…`` maps (masked client →
  mark, with the time left).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from piranha.dataplane.kernel import nftvalues as v
from piranha.dataplane.kernel.conntrack import CtEntry, count_by_mark, parse_lines
from piranha.dataplane.kernel.nfnetlink import DumpedElement, NfTablesSocket
from piranha.table.connections import FTP_PORT
from piranha.table.model import (
    IPPROTO_IP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    Connection,
    Destination,
    Service,
    int_to_ip,
)

from .plan import DR, NAT, TABLE

# conntrack's TCP states as IPVS names them (the director saw the client's SYN: SYN_RECV)
CT_TO_IPVS = {
    "NONE": "NONE",
    "SYN_SENT": "SYN_RECV",
    "SYN_SENT2": "SYN_RECV",
    "SYN_RECV": "SYN_RECV",
    "ESTABLISHED": "ESTABLISHED",
    "FIN_WAIT": "FIN_WAIT",
    "CLOSE_WAIT": "CLOSE_WAIT",
    "LAST_ACK": "LAST_ACK",
    "TIME_WAIT": "TIME_WAIT",
    "CLOSE": "CLOSE",
}

CounterKey = tuple[str, str, int]  # family, counter set, mark
Resolve = Callable[[int], tuple[Service, Destination] | None]


def read_counters(sock: NfTablesSocket, families: set[str]) -> dict[CounterKey, tuple[int, int]]:
    """(family, set, mark) -> (packets, bytes) for every counter element."""
    out: dict[CounterKey, tuple[int, int]] = {}
    sets = {NAT: ("cnt_conn", "cnt_in", "cnt_out"), DR: ("cnt_conn", "cnt_in")}
    for family in sorted(families):
        for name in sets[family]:
            for el in sock.dump(family, TABLE, name):
                out[(family, name, v.read_u32(el.key))] = (el.packets or 0, el.bytes or 0)
    return out


@dataclass(slots=True)
class Snapshot:
    """Connections and templates, and the counts they add up to per real server."""

    connections: list[Connection]
    counts: dict[int, list[int]]  # mark -> [active, inactive, persistent]
    flow_marks: set[int]  # marks that DR flows still point to
    pending: list[Callable[[], list[Connection]]] = field(default_factory=list)  # built when listed


def _count(counts: dict[int, list[int]], mark: int, slot: int) -> None:
    counts.setdefault(mark, [0, 0, 0])[slot] += 1


def from_conntrack_lines(lines: list[str], resolve: Resolve, now: float, snap: Snapshot) -> None:
    """Counts now (a fast scan); the entries themselves only if somebody lists them."""
    for mark, (established, other) in count_by_mark(lines).items():
        slot = snap.counts.setdefault(mark, [0, 0, 0])
        slot[0] += established
        slot[1] += other

    def build() -> list[Connection]:
        listed = Snapshot([], {}, set())
        from_conntrack(parse_lines(lines), resolve, now, listed)
        return listed.connections

    snap.pending.append(build)


def from_conntrack(entries: list[CtEntry], resolve: Resolve, now: float, snap: Snapshot) -> None:
    for e in entries:
        found = resolve(e.mark)
        if found is None:
            continue
        svc, dest = found
        protocol = IPPROTO_UDP if e.protocol == "udp" else IPPROTO_TCP
        state = "UDP" if protocol == IPPROTO_UDP else CT_TO_IPVS.get(e.state, e.state or "NONE")
        active = state == "ESTABLISHED"
        snap.connections.append(
            Connection(
                protocol=protocol,
                caddr=e.src,
                cport=e.sport,
                vaddr=e.dst,
                vport=e.dport,
                daddr=e.reply_src,
                dport=e.reply_sport,
                state=state,
                expires=now + e.timeout,
                timeout=float(e.timeout),
                service=svc,
                dest=dest,
                inactive=not active,
            )
        )
        _count(snap.counts, e.mark, 0 if active else 1)


def _flow_fields(key: bytes) -> tuple[str, int, str, int]:
    return v.read_ipv4(key[0:4]), v.read_port(key[4:8]), v.read_ipv4(key[8:12]), v.read_port(key[12:16])


def from_flows(
    tcp: list[DumpedElement],
    udp: list[DumpedElement],
    closing: list[DumpedElement],
    resolve: Resolve,
    now: float,
    snap: Snapshot,
) -> None:
    closing_keys = {el.key for el in closing}
    for protocol, flows in ((IPPROTO_TCP, tcp), (IPPROTO_UDP, udp)):
        for el in flows:
            if el.data is None:
                continue
            mark = v.read_u32(el.data)
            snap.flow_marks.add(mark)
            found = resolve(mark)
            if found is None:
                continue
            svc, dest = found
            caddr, cport, vaddr, vport = _flow_fields(el.key)
            if protocol == IPPROTO_UDP:
                state, active = "UDP", False
            elif el.key in closing_keys:
                state, active = "FIN_WAIT", False
            else:
                state, active = "ESTABLISHED", True
            left = (el.expires_ms or 0) / 1000.0
            snap.connections.append(
                Connection(
                    protocol=protocol,
                    caddr=caddr,
                    cport=cport,
                    vaddr=vaddr,
                    vport=vport,
                    daddr=dest.address,
                    dport=vport,  # direct routing keeps the port
                    state=state,
                    expires=now + left,
                    timeout=(el.timeout_ms or 0) / 1000.0,
                    service=svc,
                    dest=dest,
                    inactive=not active,
                )
            )
            _count(snap.counts, mark, 0 if active else 1)


def from_templates(svc: Service, elements: list[DumpedElement], resolve: Resolve, now: float, snap: Snapshot) -> None:
    """Persistence templates as ``ip_vs_sched_persist`` keys them (connections.py)."""
    key = svc.key
    for el in elements:
        if el.data is None:
            continue
        mark = v.read_u32(el.data)
        found = resolve(mark)
        if found is None:
            continue
        _svc, dest = found
        if key.is_fwmark:
            protocol, vaddr, vport = IPPROTO_IP, int_to_ip(key.fwmark), 0
        else:
            protocol, vaddr = key.protocol, key.address
            vport = 0 if key.port == FTP_PORT else key.port
        dport = dest.port if vport and vport == key.port else 0
        snap.connections.append(
            Connection(
                protocol=protocol,
                caddr=v.read_ipv4(el.key),
                cport=0,
                vaddr=vaddr,
                vport=vport,
                daddr=dest.address,
                dport=dport,
                state="UDP" if protocol == IPPROTO_UDP else "NONE",
                expires=now + (el.expires_ms or 0) / 1000.0,
                timeout=float(svc.persistent),
                service=svc,
                dest=dest,
                template=True,
            )
        )
        _count(snap.counts, mark, 2)
