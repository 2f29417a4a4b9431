"""The floating addresses: which ones, and adding and removing exactly those.

The original brought each address up with ``ifconfig DEV IP [netmask M
broadcast B] up`` and took it down with ``ifconfig DEV down`` — which,
for a VIP configured on a base device (``eth0`` instead of ``eth0:1``),
took the whole interface down.  Here every address is added over netlink
with its label (``eth0:1`` labels an address on eth0) and removed by
itself; the interface is never touched.  Addresses that were already
there (an administrator's) are used but never removed.  What pulse added
is written to a small state file, so a restart after a crash (or
``piranha pulse --cleanup``, the systemd unit's ExecStopPost) removes
leftovers.

Netmask: ``vip_nmask`` / ``nat_nmask`` when set, else /32.  (ifconfig
applied the classful default, /8 for a 10.x VIP — a route the operator
never asked for; /32 is what keepalived does too.)
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .arp import base_device
from .netlink import NewAddress, add_ipv4_addresses

IFNAMSIZ = 16


@dataclass(frozen=True, slots=True)
class FloatingAddress:
    address: str
    prefixlen: int
    device: str  # the interface: eth0
    label: str  # eth0:1 (or eth0)
    # "virtual www", "nat_router", "failover ftp": for log lines only, so a renamed
    # virtual server keeps its (equal) address plumbed across a reload
    purpose: str = field(compare=False)

    @property
    def broadcast(self) -> str | None:
        if self.prefixlen >= 31:
            return None
        net = ipaddress.IPv4Network(f"{self.address}/{self.prefixlen}", strict=False)
        return str(net.broadcast_address)

    def key(self) -> tuple[str, int, str]:
        return (self.address, self.prefixlen, self.device)

    def describe(self) -> str:
        return f"{self.address}/{self.prefixlen} on {self.label}"


def prefix_of(mask: str | None) -> int:
    if not mask or mask == "0.0.0.0":
        return 32
    return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen


def _label(device: str) -> str:
    # The kernel insists that a label starts with the interface name and fits IFNAMSIZ.
    return device if len(device) < IFNAMSIZ else base_device(device)


def planned(config) -> list[FloatingAddress]:
    """The addresses the active router holds, in the original's order.

    lvs: nat_router (network = nat), then each distinct VIP of the active
    virtual servers (the first device named for an address wins, as in the
    original).  fos: each distinct address of the active failover services.
    """
    out: list[FloatingAddress] = []
    seen: set[str] = set()

    def add(address: str | None, device: str | None, mask: str | None, purpose: str) -> None:
        if not address or address == "0.0.0.0" or not device or address in seen:
            return
        seen.add(address)
        out.append(
            FloatingAddress(address, prefix_of(mask), base_device(device), _label(device), purpose)
        )

    if config.service == "fos":
        for f in config.active_failovers():
            add(f.address, f.device, f.vip_nmask, f"failover {f.name}")
        return out
    if config.network == "nat" and config.nat_router:
        add(config.nat_router, config.nat_router_device, config.nat_nmask, "nat_router")
    for v in config.active_virtuals():
        add(v.address, v.device, v.vip_nmask, f"virtual {v.name}")
    return out


class AddressError(Exception):
    pass


class AddressKeeper:
    """Adds and removes floating addresses, remembering which ones are ours.

    Blocking (netlink): :meth:`add_all` is one raw batch (under a millisecond,
    called from the event loop at takeover); the rest goes through pyroute2 —
    call it through ``asyncio.to_thread``.
    """

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self.ours: dict[tuple[str, int, str], FloatingAddress] = {}
        self._load()

    # --- state file -------------------------------------------------------------
    def _load(self) -> None:
        try:
            items = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        for item in items if isinstance(items, list) else []:
            with contextlib.suppress(TypeError, KeyError):
                fa = FloatingAddress(**item)
                self.ours[fa.key()] = fa

    def _save(self) -> None:
        if not self.ours:
            with contextlib.suppress(FileNotFoundError):
                self.state_file.unlink()
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(json.dumps([asdict(a) for a in self.ours.values()], indent=1))
        os.replace(tmp, self.state_file)

    # --- netlink ------------------------------------------------------------------
    def add(self, fa: FloatingAddress) -> str:
        """Bring ``fa`` up; returns "added", "present" (someone else's) or "ours" (already ours).

        Raises AddressError with a message for the log.
        """
        outcome = self.add_all([fa])[0]
        if isinstance(outcome, AddressError):
            raise outcome
        return outcome

    def add_all(self, wanted: list[FloatingAddress]) -> list[str | AddressError]:
        """Like :meth:`add` for each address, in one netlink batch (a takeover is in a
        hurry); errors are returned in place, not raised."""
        outcomes: list[str | AddressError | None] = [None] * len(wanted)
        asked: list[int] = []  # positions in `wanted` that go to the kernel
        requests: list[NewAddress] = []
        for n, fa in enumerate(wanted):
            try:
                index = socket.if_nametoindex(fa.device)
            except OSError:
                outcomes[n] = AddressError(
                    f"cannot add {fa.describe()} ({fa.purpose}): there is no interface {fa.device}"
                )
                continue
            asked.append(n)
            requests.append(NewAddress(index, fa.address, fa.prefixlen, fa.label, fa.broadcast))
        try:
            _present, codes = add_ipv4_addresses(requests) if requests else (set(), [])
        except OSError as exc:
            codes = [exc.errno or errno.EIO] * len(requests)
        for n, code in zip(asked, codes, strict=True):
            fa = wanted[n]
            if code == -1 or code == errno.EEXIST:  # there before, or raced with someone
                outcomes[n] = "ours" if fa.key() in self.ours else "present"
            elif code:
                outcomes[n] = AddressError(
                    f"cannot add {fa.describe()} ({fa.purpose}): {os.strerror(code)}"
                )
            else:
                self.ours[fa.key()] = fa
                outcomes[n] = "added"
        self._save()
        return [o for o in outcomes if o is not None]  # every position is filled

    def remove(self, fa: FloatingAddress) -> bool:
        """Remove ``fa`` if we added it; True if it was removed."""
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        if fa.key() not in self.ours:
            return False
        removed = False
        with IPRoute() as ipr:
            try:
                index = self._index(ipr, fa)
                ipr.addr("del", index=index, address=fa.address, prefixlen=fa.prefixlen)
                removed = True
            except AddressError:
                pass  # the interface is gone, and the address with it
            except NetlinkError as exc:
                if exc.code not in (99, 19):  # EADDRNOTAVAIL, ENODEV: already gone
                    raise AddressError(
                        f"cannot remove {fa.describe()}: {os.strerror(exc.code)}"
                    ) from None
        del self.ours[fa.key()]
        self._save()
        return removed

    def remove_all(self) -> list[FloatingAddress]:
        """Remove every address we added (also leftovers of an earlier run)."""
        removed = []
        for fa in list(self.ours.values()):
            if self.remove(fa):
                removed.append(fa)
        return removed

    @staticmethod
    def _index(ipr, fa: FloatingAddress) -> int:
        found = ipr.link_lookup(ifname=fa.device)
        if not found:
            raise AddressError(
                f"cannot add {fa.describe()} ({fa.purpose}): there is no interface {fa.device}"
            )
        return found[0]
