"""The last ten minutes of counters and rates, one sample per estimator tick (2 s).

For the GUI's graphs (the ``history`` control op).  A sample is taken right
after the rate estimator ran, so its rates are the ones ``lvsadm --rate``
showed at that moment.

Kept compact and bounded: a sample is one array of 64-bit numbers per
kind (services, destinations) in the order of a key list that successive
samples share while the table's shape stays the same, in a deque of 300
samples.  That is 64 bytes per destination per sample; above
`MAX_DEST_HISTORY` destinations only the services are sampled (about
38 MB for 2,000 destinations over ten minutes).
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass
from typing import Any

from piranha.table.model import IPPROTO_UDP, ServiceKey, VirtualTable

INTERVAL = 2.0
KEEP_SECONDS = 600.0
MAX_DEST_HISTORY = 2000
FIELDS = ("conns", "activeconns", "inactconns", "inbytes", "outbytes", "cps", "inbps", "outbps")
WIDTH = len(FIELDS)


def service_id(key: ServiceKey) -> str:
    """``tcp:1.2.3.4:80``, ``udp:1.2.3.4:53`` or ``fwm:80``: how the control socket names a service."""
    if key.is_fwmark:
        return f"fwm:{key.fwmark}"
    proto = "udp" if key.protocol == IPPROTO_UDP else "tcp"
    return f"{proto}:{key.address}:{key.port}"


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # epoch seconds
    service_keys: tuple[str, ...]
    services: array  # WIDTH numbers per key
    dest_keys: tuple[str, ...]
    dests: array


class History:
    def __init__(self, keep_seconds: float = KEEP_SECONDS, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._samples: deque[Sample] = deque(maxlen=max(1, int(keep_seconds / interval)))

    def __len__(self) -> int:
        return len(self._samples)

    def record(self, table: VirtualTable, wall: float) -> None:
        service_keys: list[str] = []
        dest_keys: list[str] = []
        services = array("q")
        dests = array("q")
        keep_dests = sum(len(s.destinations) for s in table.services.values()) <= MAX_DEST_HISTORY
        for svc in table.sorted_services():
            sid = service_id(svc.key)
            service_keys.append(sid)
            s, r = svc.stats, svc.rates
            active = inactive = 0
            for dest in svc.destinations:
                active += dest.activeconns
                inactive += dest.inactconns
                if keep_dests:
                    ds, dr = dest.stats, dest.rates
                    dest_keys.append(f"{sid}|{dest.address}:{dest.port}")
                    dests.extend((ds.conns, dest.activeconns, dest.inactconns, ds.inbytes,
                                  ds.outbytes, dr.cps, dr.inbps, dr.outbps))  # fmt: skip
            services.extend((s.conns, active, inactive, s.inbytes, s.outbytes, r.cps, r.inbps,
                             r.outbps))  # fmt: skip
        last = self._samples[-1] if self._samples else None
        skeys, dkeys = tuple(service_keys), tuple(dest_keys)
        if last is not None:  # share the key lists while the table keeps its shape
            skeys = last.service_keys if last.service_keys == skeys else skeys
            dkeys = last.dest_keys if last.dest_keys == dkeys else dkeys
        self._samples.append(Sample(wall, skeys, services, dkeys, dests))

    def view(self, seconds: float, wall: float) -> dict[str, Any]:
        """The ``history`` op's answer: samples of the last ``seconds``, oldest first."""
        since = wall - seconds
        return {
            "interval": self.interval,
            "samples": [
                {
                    "t": sample.t,
                    "services": _unpack(sample.service_keys, sample.services),
                    "dests": _unpack(sample.dest_keys, sample.dests),
                }
                for sample in self._samples
                if sample.t >= since
            ],
        }


def _unpack(keys: tuple[str, ...], values: array) -> dict[str, dict[str, int]]:
    return {
        key: dict(zip(FIELDS, values[i * WIDTH : (i + 1) * WIDTH], strict=True))
        for i, key in enumerate(keys)
    }
