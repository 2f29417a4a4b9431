"""The rate estimator against hand-computed ip_vs_est.c arithmetic."""

from __future__ import annotations

from piranha.table.estimator import EstimatorClock, RateEstimator, tick_table
from piranha.table.model import Rates, Stats

from .helpers import KEY, build, connect


def test_one_tick_scaling_and_rounding():
    stats = Stats()
    est = RateEstimator(stats)
    stats.conns, stats.inpkts, stats.inbytes = 10, 100, 100_000
    est.tick(stats)
    # conns: rate = 10 << 9 = 5120; avg = 0 + (5120 - 0) >> 2 = 1280
    # read: (1280 + 0x1FF) >> 10 = 1791 >> 10 = 1
    assert est.cps == 1280 and est.inpps == 12800 and est.inbps == (100_000 << 4) >> 2
    rates = Rates()
    est.read(rates)
    assert rates.cps == 1
    assert rates.inpps == (12800 + 511) >> 10 == 12
    assert rates.inbps == (400_000 + 15) >> 5 == 12500


def test_ewma_converges_to_the_true_rate():
    stats = Stats()
    est = RateEstimator(stats)
    rates = Rates()
    # the floor shift leaves the average up to 3 below the scaled rate; the
    # rounding on reading makes up for it once (3/4)^n of the rate is < 4
    for _ in range(80):
        stats.conns += 200  # 100 per second over 2 s
        stats.outbytes += 2_000_000  # 1 MB/s
        est.tick(stats)
    est.read(rates)
    assert rates.cps == 100 and rates.outbps == 1_000_000


def test_decay_uses_an_arithmetic_shift():
    stats = Stats()
    est = RateEstimator(stats)
    stats.conns = 1
    est.tick(stats)  # 512 >> 2 = 128
    est.tick(stats)  # 128 + ((0 - 128) >> 2) = 96
    assert est.cps == 96
    est.cps = 3
    est.tick(stats)  # 3 + ((0 - 3) >> 2) = 3 - 1 = 2 (floor, not truncation)
    assert est.cps == 2


def test_reset_restarts_from_current_counters():
    stats = Stats(conns=1000)
    est = RateEstimator()
    est.reset(stats)
    est.tick(stats)
    assert est.cps == 0


def test_tick_table_fills_service_and_destination_rates_and_zero_resets():
    table, svc = build("rr", [1, 1])
    for n in range(20):
        conn = connect(table, svc, n)
        table.connections.account(conn, in_bytes=1000, in_pkts=10)
    tick_table(table)
    assert svc.rates.cps == (((20 << 9) >> 2) + 511) >> 10 == 2
    assert svc.destinations[0].rates.cps == (((10 << 9) >> 2) + 511) >> 10 == 1
    assert svc.rates.inbps == (((20_000 << 4) >> 2) + 15) >> 5
    table.zero(KEY)
    assert svc.rates.cps == 0 and svc.stats.conns == 0
    tick_table(table)
    assert svc.rates.cps == 0  # no jump from the zeroed counters


def test_clock_ticks_every_two_seconds_of_now():
    table, _ = build("rr", [1])
    clock = EstimatorClock()
    assert clock.advance(table, 100.0) == 0
    assert clock.advance(table, 101.9) == 0
    assert clock.advance(table, 102.0) == 1
    assert clock.advance(table, 109.0) == 3
