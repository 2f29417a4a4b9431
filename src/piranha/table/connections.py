"""The connection table: entries, persistence templates, states and expiry.

This is ``ip_vs_conn.c`` plus the scheduling half of ``ip_vs_core.c`` as
pure data: callers pass ``now`` (monotonic seconds) and get back the
entries to open or close.

Counting, as the kernel does it (``ip_vs_bind_dest``/``ip_vs_unbind_dest``,
``set_tcp_state``):

* a new connection is bound inactive (InActConn); a TCP one becomes active
  (ActiveConn) on entering ESTABLISHED and inactive again on leaving it;
  UDP connections are always inactive;
* a template counts in ``persistconns`` only, never in Active/InAct;
* binding sets the OVERLOAD flag when the upper threshold is set and
  active + inactive reaches it; unbinding clears it below the lower
  threshold, or below 3/4 of the upper one when no lower one is set (and
  always when neither is set);
* every new connection (not a template) adds 1 to ``stats.conns`` of its
  destination and service.

Timers: an entry expires ``timeout`` seconds after its last packet
(``touch``) or state change; the timeout is the state's (TCP: ESTABLISHED =
``timeouts.tcp``, FIN_WAIT = ``timeouts.tcpfin``, the rest fixed as in
``tcp_timeouts[]``; UDP = ``timeouts.udp``; a template: the service's
persistence timeout).  A template that still controls connections when its
timer runs out is re-armed for 60 s at a time (``ip_vs_conn_expire``,
``cp->timeout = 60*HZ``), and from then on its timeout stays 60 s, also when
a new connection uses it.

Persistence (``ip_vs_sched_persist``): the template key is ⟨protocol,
client & netmask, 0, VIP, VPORT⟩ for a port service, with VPORT 0 for FTP
(port 21) and for connections reaching a port-zero service; fwmark
services use ⟨IP, client & netmask, 0, mark as an IPv4 address, 0⟩.  A
valid template sends the connection to its destination without asking the
scheduler and restarts the template's timer.  ``ip_vs_check_template``
invalidates a template whose destination was deleted, or has weight 0 when
``expire_quiescent_template`` is set: its ports become 65535 (it stays
listed until it expires) and the client is scheduled afresh.  With weight
0 and the sysctl off, returning clients keep going to the quiesced server.

Differences from the brief's sketch: ``remove`` returns whether the entry
went (a template that still controls connections cannot); ``schedule``
returns the live entry already under the same key, except that a TCP entry
in TIME_WAIT or CLOSE that no template controls, or one whose destination
was deleted while ``expire_nodest_conn`` is set, is dropped and the
connection scheduled afresh (``conn_reuse_mode`` 1).  Services with ``ops``
(one-packet scheduling, UDP) get a connection that is counted and unbound
at once and never enters the table.
"""

from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING

from .model import (
    IPPROTO_IP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    Connection,
    Destination,
    Service,
    int_to_ip,
    ip_to_int,
)

if TYPE_CHECKING:  # pragma: no cover
    from .model import VirtualTable

FTP_PORT = 21
INVALID_PORT = 0xFFFF  # an invalidated template's ports
TEMPLATE_RETRY = 60.0  # ip_vs_conn_expire: a controlling template waits this long again

# tcp_timeouts[] in ip_vs_proto_tcp.c; ESTABLISHED and FIN_WAIT come from
# `ipvsadm --set` (Timeouts.tcp / Timeouts.tcpfin).
TCP_STATE_TIMEOUTS: dict[str, float] = {
    "NONE": 2,
    "ESTABLISHED": 15 * 60,
    "SYN_SENT": 2 * 60,
    "SYN_RECV": 1 * 60,
    "FIN_WAIT": 2 * 60,
    "TIME_WAIT": 2 * 60,
    "CLOSE": 10,
    "CLOSE_WAIT": 60,
    "LAST_ACK": 30,
    "LISTEN": 2 * 60,
    "SYNACK": 120,
}
TCP_STATES: tuple[str, ...] = tuple(TCP_STATE_TIMEOUTS)
UDP_STATE = "UDP"
# the state after the client's first SYN (sNO --syn--> sSR in tcp_states[])
INITIAL_TCP_STATE = "SYN_RECV"

ConnKey = tuple[int, str, int, str, int]

# stale timers tolerated beyond twice the live entries before the heap is rebuilt
COMPACT_SLACK = 1024


class ConnectionTable:
    """Connections and templates of one :class:`VirtualTable`."""

    def __init__(self, table: VirtualTable) -> None:
        self.table = table
        self._all: dict[Connection, None] = {}  # every entry, in creation order
        self._live: dict[ConnKey, Connection] = {}  # connections by their 5-tuple
        self._templates: dict[ConnKey, Connection] = {}  # valid templates by key
        self._timers: list[tuple[float, int, Connection]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._all)

    # -- scheduling -------------------------------------------------------

    def schedule(
        self,
        svc: Service,
        protocol: int,
        caddr: str,
        cport: int,
        vaddr: str,
        vport: int,
        now: float,
    ) -> Connection | None:
        """A new flow from caddr:cport to vaddr:vport: pick a destination and bind.

        None when no destination is available (the kernel drops the packet
        and answers ICMP port unreachable), or when a non-persistent
        service with port 0 is asked (the kernel refuses those).
        """
        if protocol not in (IPPROTO_TCP, IPPROTO_UDP):
            raise ValueError(f"cannot schedule protocol {protocol}: only TCP (6) and UDP (17)")
        key = (protocol, caddr, cport, vaddr, vport)
        old = self._live.get(key)
        if old is not None:
            if not self._reschedules(old):
                return old
            self._unlink(old)
        if svc.persistent:
            return self._schedule_persistent(svc, protocol, caddr, cport, vaddr, vport, now)
        if not svc.key.is_fwmark and vport != svc.key.port:
            return None
        dest = self._pick(svc, caddr, cport, vaddr, vport, now)
        if dest is None:
            return None
        conn = self._new(svc, protocol, caddr, cport, vaddr, vport, dest, dest.port or vport, now)
        return self._admit(svc, conn)

    def _schedule_persistent(
        self,
        svc: Service,
        protocol: int,
        caddr: str,
        cport: int,
        vaddr: str,
        vport: int,
        now: float,
    ) -> Connection | None:
        snet = int_to_ip(ip_to_int(caddr) & svc.netmask_int)
        port = svc.key.port
        tprotocol, tvaddr, tvport = protocol, vaddr, 0
        if vport == port:
            if port != FTP_PORT:
                tvport = vport
        elif svc.key.is_fwmark:
            tprotocol, tvaddr = IPPROTO_IP, int_to_ip(svc.key.fwmark)
        tkey = (tprotocol, snet, 0, tvaddr, tvport)
        template = self._templates.get(tkey)
        if template is not None and not self._check_template(template):
            template = None
        if template is None:
            dest = self._pick(svc, caddr, cport, vaddr, vport, now)
            if dest is None:
                return None
            tdport = dest.port if vport == port and port != FTP_PORT else 0
            template = Connection(
                protocol=tprotocol,
                caddr=snet,
                cport=0,
                vaddr=tvaddr,
                vport=tvport,
                daddr=dest.address,
                dport=tdport,
                state=UDP_STATE if tprotocol == IPPROTO_UDP else "NONE",
                expires=now,
                timeout=float(svc.persistent),
                service=svc,
                dest=dest,
                template=True,
            )
            self._bind(template)
            self._all[template] = None
            self._templates[tkey] = template
        dest = template.dest
        assert dest is not None  # templates are created bound
        dport = vport
        if dport == port and dest.port:
            dport = dest.port
        conn = self._new(svc, protocol, caddr, cport, vaddr, vport, dest, dport, now)
        conn.controller = template
        template.n_control += 1
        # ip_vs_conn_put(ct): the template's timer restarts with its timeout
        self._set_expiry(template, now + template.timeout)
        return self._admit(svc, conn)

    def _pick(
        self, svc: Service, caddr: str, cport: int, vaddr: str, vport: int, now: float
    ) -> Destination | None:
        assert svc.scheduler is not None
        return svc.scheduler.schedule(svc, ip_to_int(caddr), cport, ip_to_int(vaddr), vport, now)

    def _new(
        self,
        svc: Service,
        protocol: int,
        caddr: str,
        cport: int,
        vaddr: str,
        vport: int,
        dest: Destination,
        dport: int,
        now: float,
    ) -> Connection:
        state = INITIAL_TCP_STATE if protocol == IPPROTO_TCP else UDP_STATE
        timeout = self.state_timeout(protocol, state)
        conn = Connection(
            protocol=protocol,
            caddr=caddr,
            cport=cport,
            vaddr=vaddr,
            vport=vport,
            daddr=dest.address,
            dport=dport,
            state=state,
            expires=now + timeout,
            timeout=timeout,
            service=svc,
            dest=dest,
        )
        self._bind(conn)
        dest.stats.conns += 1  # ip_vs_conn_stats
        svc.stats.conns += 1
        return conn

    def _admit(self, svc: Service, conn: Connection) -> Connection:
        if svc.ops and conn.protocol == IPPROTO_UDP:
            # one-packet scheduling: the entry is freed right after the packet
            self._unbind(conn)
            if conn.controller is not None:
                conn.controller.n_control -= 1
            return conn
        self._all[conn] = None
        self._live[(conn.protocol, conn.caddr, conn.cport, conn.vaddr, conn.vport)] = conn
        self._arm(conn)
        return conn

    def _reschedules(self, old: Connection) -> bool:
        """Whether a new flow on a live entry's 5-tuple replaces it (ip_vs_in)."""
        if old.dest is not None and not old.dest.available and self.table.expire_nodest_conn:
            return True
        # is_new_conn_expected(): a finished TCP connection, not persistence-controlled
        return (
            old.protocol == IPPROTO_TCP
            and old.controller is None
            and old.state in ("TIME_WAIT", "CLOSE")
        )

    def _check_template(self, template: Connection) -> bool:
        """``ip_vs_check_template``: False (and the template invalidated) if unusable."""
        dest = template.dest
        if (
            dest is not None
            and dest.available
            and not (self.table.expire_quiescent_template and dest.weight == 0)
        ):
            return True
        if template.vport != INVALID_PORT:
            key = self._template_key(template)
            if self._templates.get(key) is template:
                del self._templates[key]
            template.dport = template.vport = INVALID_PORT
            template.cport = 0
        return False

    # -- lookups and traffic ----------------------------------------------

    def lookup(
        self, protocol: int, caddr: str, cport: int, vaddr: str, vport: int
    ) -> Connection | None:
        """The live connection for a packet from the client side, if any."""
        return self._live.get((protocol, caddr, cport, vaddr, vport))

    def set_state(self, conn: Connection, state: str, now: float) -> None:
        """A TCP state change (or a UDP packet with state "UDP") at ``now``.

        Moves the connection between ActiveConn and InActConn as
        ``set_tcp_state`` does and restarts its timer with the new state's
        timeout.  Entries no longer in the table are left alone.
        """
        if conn.template:
            raise ValueError("a persistence template has no protocol state")
        valid = TCP_STATES if conn.protocol == IPPROTO_TCP else (UDP_STATE,)
        if state not in valid:
            raise ValueError(
                f"unknown state {state!r} for a {'TCP' if conn.protocol == IPPROTO_TCP else 'UDP'}"
                f" connection; expected one of {', '.join(valid)}"
            )
        if conn not in self._all:
            return
        dest = conn.dest
        if state != conn.state and dest is not None:
            if not conn.inactive and state != "ESTABLISHED":
                dest.activeconns -= 1
                dest.inactconns += 1
                conn.inactive = True
                self._load_changed(conn)
            elif conn.inactive and state == "ESTABLISHED":
                dest.inactconns -= 1
                dest.activeconns += 1
                conn.inactive = False
                self._load_changed(conn)
        conn.state = state
        conn.timeout = self.state_timeout(conn.protocol, state)
        self._set_expiry(conn, now + conn.timeout)

    def touch(self, conn: Connection, now: float) -> None:
        """A packet on ``conn``: its timer restarts with its state's timeout."""
        if conn not in self._all:
            return
        if not conn.template:
            # each packet re-reads the timeout table (tcp/udp_state_transition)
            conn.timeout = self.state_timeout(conn.protocol, conn.state)
        self._set_expiry(conn, now + conn.timeout)

    def account(
        self,
        conn: Connection,
        in_bytes: int = 0,
        in_pkts: int = 0,
        out_bytes: int = 0,
        out_pkts: int = 0,
    ) -> None:
        """Traffic counters of the connection's destination and service.

        Like ``ip_vs_in_stats``/``ip_vs_out_stats``: nothing is counted once
        the destination has been deleted.
        """
        dest = conn.dest
        if dest is None or not dest.available:
            return
        targets = [dest.stats]
        if conn.service is not None:
            targets.append(conn.service.stats)
        for stats in targets:
            stats.inbytes += in_bytes
            stats.inpkts += in_pkts
            stats.outbytes += out_bytes
            stats.outpkts += out_pkts

    def state_timeout(self, protocol: int, state: str) -> float:
        if protocol == IPPROTO_UDP:
            return float(self.table.timeouts.udp)
        if state == "ESTABLISHED":
            return float(self.table.timeouts.tcp)
        if state == "FIN_WAIT":
            return float(self.table.timeouts.tcpfin)
        return float(TCP_STATE_TIMEOUTS[state])

    # -- expiry and removal -----------------------------------------------

    def expire(self, now: float) -> list[Connection]:
        """Drop every entry whose timer ran out by ``now``; returns them.

        Timers fire in deadline order, each at its own deadline, so a
        template sees its connections go first.  Also runs the schedulers'
        housekeeping (lblc/lblcr caches) and the trash collection.
        """
        expired: list[Connection] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            deadline, _, conn = heapq.heappop(timers)
            if conn.armed_at != deadline or conn not in self._all:
                continue  # superseded by a later arming, or already gone
            conn.armed_at = float("inf")
            if conn.expires > deadline:  # touched since it was armed
                self._arm(conn)
                continue
            if conn.n_control:
                # ip_vs_conn_expire: "do I control anybody?" -> try again later
                conn.timeout = TEMPLATE_RETRY
                conn.expires = deadline + TEMPLATE_RETRY
                self._arm(conn)
                continue
            self._unlink(conn)
            expired.append(conn)
        for svc in list(self.table.services.values()):
            if svc.scheduler is not None:
                svc.scheduler.expire(svc, now)
        self.table.purge_trash(now)
        return expired

    def remove(self, conn: Connection) -> bool:
        """The data plane closed ``conn`` for good; False if it cannot go.

        A template that still controls connections stays (the kernel
        re-arms it); anything else is unbound and dropped now.
        """
        if conn not in self._all:
            return False
        if conn.n_control:
            return False
        self._unlink(conn)
        return True

    def flush_dest(self, dest: Destination, now: float) -> list[Connection]:
        """After ``dest`` was deleted: with ``expire_nodest_conn`` drop its entries.

        ``ip_vs_expire_nodest_conn_flush`` (queued by the kernel when a
        destination is deleted and the sysctl is 1): every connection bound
        to the deleted destination is expired at once, and so is every
        template left controlling nothing.  Returns what went, for the data
        plane to close.  With the sysctl 0 (the default) nothing happens:
        the entries stay, their packets are dropped, and they resume if the
        destination is added back before they time out.
        """
        if dest.available or not self.table.expire_nodest_conn:
            return []
        mine = [conn for conn in self._all if conn.dest is dest]
        removed: list[Connection] = []
        # connections first: that frees the templates controlling them
        for conn in sorted(mine, key=lambda c: c.template):
            if conn in self._all and not conn.n_control:
                self._unlink(conn)
                removed.append(conn)
        return removed

    def entries(self) -> list[Connection]:
        """Connections and templates, for ``ipvsadm -L -c``."""
        return list(self._all)

    # -- internal ---------------------------------------------------------

    @staticmethod
    def _template_key(template: Connection) -> ConnKey:
        return (template.protocol, template.caddr, template.cport, template.vaddr, template.vport)

    def _set_expiry(self, conn: Connection, expires: float) -> None:
        conn.expires = expires
        if expires < conn.armed_at:
            self._arm(conn)

    def _arm(self, conn: Connection) -> None:
        conn.armed_at = conn.expires
        heapq.heappush(self._timers, (conn.expires, next(self._seq), conn))
        if len(self._timers) > 2 * len(self._all) + COMPACT_SLACK:
            self._compact()

    def _compact(self) -> None:
        """Drop timers of removed or re-armed entries.

        Removal is lazy (a heap cannot delete from the middle), so a busy
        proxy closing thousands of connections a second would otherwise keep
        every dead entry until its old deadline.  Rebuilding when stale
        timers outnumber live entries keeps the heap O(live) at O(1)
        amortised cost per arming.
        """
        live = self._all
        self._timers = [t for t in self._timers if t[2] in live and t[2].armed_at == t[0]]
        heapq.heapify(self._timers)

    def _bind(self, conn: Connection) -> None:
        """``ip_vs_bind_dest``."""
        dest = conn.dest
        assert dest is not None
        if conn.template:
            dest.persistconns += 1
        elif conn.inactive:
            dest.inactconns += 1
        else:
            dest.activeconns += 1
        if dest.u_threshold and dest.activeconns + dest.inactconns >= dest.u_threshold:
            dest.overloaded = True
        self._load_changed(conn)

    def _unbind(self, conn: Connection) -> None:
        """``ip_vs_unbind_dest``."""
        dest = conn.dest
        if dest is None:
            return
        if conn.template:
            dest.persistconns -= 1
        elif conn.inactive:
            dest.inactconns -= 1
        else:
            dest.activeconns -= 1
        total = dest.activeconns + dest.inactconns
        if dest.l_threshold:
            if total < dest.l_threshold:
                dest.overloaded = False
        elif dest.u_threshold:
            if total * 4 < dest.u_threshold * 3:
                dest.overloaded = False
        else:
            dest.overloaded = False
        self._load_changed(conn)

    def _unlink(self, conn: Connection) -> None:
        """Take an entry out of the table and unbind it (no controlled entries left)."""
        del self._all[conn]
        if conn.template:
            key = self._template_key(conn)
            if self._templates.get(key) is conn:
                del self._templates[key]
        else:
            key = (conn.protocol, conn.caddr, conn.cport, conn.vaddr, conn.vport)
            if self._live.get(key) is conn:
                del self._live[key]
        self._unbind(conn)
        if conn.controller is not None:
            conn.controller.n_control -= 1

    def _load_changed(self, conn: Connection) -> None:
        svc = conn.service
        if svc is not None and svc.scheduler is not None and conn.dest is not None:
            svc.scheduler.load_changed(svc, conn.dest)
