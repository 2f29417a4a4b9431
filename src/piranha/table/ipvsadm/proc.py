"""``/proc/net/ip_vs``: the kernel's own listing, which the historical GUI parsed.

The layout of the RHEL 6 kernel (2.6.32): hex addresses and ports, the
scheduler followed by a blank, then ``persistent <seconds> <hexmask>`` or
nothing (so a non-persistent service line ends with a blank), and
destinations in the service's list order.  Services come as the kernel
walks its two hash tables: address services first, then fwmark services.
"""

from __future__ import annotations

from ..model import VirtualTable, ip_to_int
from .render import conn_protocol_name


def render_proc_ip_vs(table: VirtualTable) -> str:
    out = [
        f"IP Virtual Server version 1.2.1 (size={table.conn_tab_size})\n",
        "Prot LocalAddress:Port Scheduler Flags\n",
        "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n",
    ]
    services = list(table.services.values())
    ordered = [s for s in services if not s.key.fwmark] + [s for s in services if s.key.fwmark]
    for svc in ordered:
        key = svc.key
        if key.fwmark:
            line = f"FWM  {key.fwmark:08X} {svc.scheduler_name} "
        else:
            line = (
                f"{conn_protocol_name(key.protocol)}  {ip_to_int(key.address):08X}:{key.port:04X} "
                f"{svc.scheduler_name} "
            )
        if svc.persistent:
            line += f"persistent {svc.persistent} {ip_to_int(svc.netmask):08X}"
        out.append(line + "\n")
        for dest in svc.destinations:
            out.append(
                f"  -> {dest.addr_int:08X}:{dest.port:04X}      {dest.forward.value:<7} "
                f"{dest.weight:<6} {dest.activeconns:<10} {dest.inactconns:<10}\n"
            )
    return "".join(out)
