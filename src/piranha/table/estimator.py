"""The kernel's rate estimator (``ip_vs_est.c``), tick for tick.

Every 2 seconds each estimator takes the growth of its counters since the
last tick, scales it (connections and packets by 2^10, bytes by 2^5, both
halved for the 2-second interval: ``<< 9`` and ``<< 4``) and folds it into
an exponentially weighted average with weight 1/4 (``avg += (rate - avg)
>> 2``, an arithmetic shift).  Reading rounds: cps and pps as ``(avg +
0x1FF) >> 10``, bytes per second as ``(avg + 0xF) >> 5``.  Zeroing the
counters (``ipvsadm -Z``) restarts the estimator from the current values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import Rates, Stats

if TYPE_CHECKING:  # pragma: no cover
    from .model import VirtualTable

TICK_INTERVAL = 2.0  # seconds between estimator runs


class RateEstimator:
    """``struct ip_vs_estimator``: the last counter values and scaled averages."""

    __slots__ = (
        "cps",
        "inbps",
        "inpps",
        "last_conns",
        "last_inbytes",
        "last_inpkts",
        "last_outbytes",
        "last_outpkts",
        "outbps",
        "outpps",
    )

    def __init__(self, stats: Stats | None = None) -> None:
        self.reset(stats if stats is not None else Stats())

    def reset(self, stats: Stats) -> None:
        """``ip_vs_zero_estimator``: start over from the counters as they are."""
        self.last_conns = stats.conns
        self.last_inpkts = stats.inpkts
        self.last_outpkts = stats.outpkts
        self.last_inbytes = stats.inbytes
        self.last_outbytes = stats.outbytes
        self.cps = self.inpps = self.outpps = self.inbps = self.outbps = 0

    def tick(self, stats: Stats) -> None:
        """One 2-second run of ``estimation_timer``."""
        rate = (stats.conns - self.last_conns) << 9
        self.last_conns = stats.conns
        self.cps += (rate - self.cps) >> 2

        rate = (stats.inpkts - self.last_inpkts) << 9
        self.last_inpkts = stats.inpkts
        self.inpps += (rate - self.inpps) >> 2

        rate = (stats.outpkts - self.last_outpkts) << 9
        self.last_outpkts = stats.outpkts
        self.outpps += (rate - self.outpps) >> 2

        rate = (stats.inbytes - self.last_inbytes) << 4
        self.last_inbytes = stats.inbytes
        self.inbps += (rate - self.inbps) >> 2

        rate = (stats.outbytes - self.last_outbytes) << 4
        self.last_outbytes = stats.outbytes
        self.outbps += (rate - self.outbps) >> 2

    def read(self, rates: Rates) -> None:
        """``ip_vs_read_estimator``: the rounded per-second rates."""
        rates.cps = (self.cps + 0x1FF) >> 10
        rates.inpps = (self.inpps + 0x1FF) >> 10
        rates.outpps = (self.outpps + 0x1FF) >> 10
        rates.inbps = (self.inbps + 0xF) >> 5
        rates.outbps = (self.outbps + 0xF) >> 5


def tick_table(table: VirtualTable) -> None:
    """One estimator run over every service and destination; fills ``.rates``.

    Deleted destinations (in the trash) are not estimated, as in the kernel
    (``ip_vs_stop_estimator``); a revived one carries on from where it was.
    """
    for svc in table.services.values():
        for owner in (svc, *svc.destinations):
            est = owner.estimator
            if est is None:
                est = owner.estimator = RateEstimator(owner.stats)
            est.tick(owner.stats)
            est.read(owner.rates)


class EstimatorClock:
    """Runs ``tick_table`` every 2 seconds of the ``now`` it is given."""

    def __init__(self, interval: float = TICK_INTERVAL) -> None:
        self.interval = interval
        self.next_tick: float | None = None

    def advance(self, table: VirtualTable, now: float) -> int:
        """Run every tick due by ``now``; returns how many ran."""
        if self.next_tick is None:
            self.next_tick = now + self.interval
            return 0
        ran = 0
        while self.next_tick <= now:
            tick_table(table)
            self.next_tick += self.interval
            ran += 1
        return ran
