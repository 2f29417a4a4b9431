"""print_largenum: K/M/G/T abbreviation boundaries, --exact widths, and where they apply."""

from __future__ import annotations

import pytest

from piranha.table import model
from piranha.table.ipvsadm import largenum

from .helpers import ok, sh


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "        0"),
        (99_999_999, " 99999999"),
        (100_000_000, "  100000K"),
        (100_000_999, "  100000K"),
        (999_999_999, "  999999K"),
        (1_000_000_000, "    1000M"),
        (99_999_999_999, "   99999M"),
        (100_000_000_000, "     100G"),
        (99_999_999_999_999, "   99999G"),
        (100_000_000_000_000, "     100T"),
        (2**64 - 1, "18446744T"),
    ],
)
def test_abbreviation(value: int, text: str) -> None:
    assert largenum(value, exact=False) == text
    assert len(text) == 9


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "        0"),
        (12_345_678, " 12345678"),
        (123_456_789, " 123456789"),
        (2**64 - 1, " 18446744073709551615"),
    ],
)
def test_exact(value: int, text: str) -> None:
    assert largenum(value, exact=True) == text


def test_stats_listing_abbreviates_unless_exact(table: model.VirtualTable) -> None:
    ok(table, "-A -t 1.2.3.4:80", "-a -t 1.2.3.4:80 -r 10.0.0.1")
    svc = table.services[model.ServiceKey.tcp("1.2.3.4", 80)]
    dest = svc.destinations[0]
    for stats in (svc.stats, dest.stats):
        stats.conns, stats.inpkts, stats.outpkts = 99_999_999, 100_000_000, 10**9
        stats.inbytes, stats.outbytes = 10**11, 10**14
    lines = sh(table, "-Ln --stats").stdout.splitlines()
    numbers = " 99999999  100000K    1000M     100G     100T"
    assert lines[3] == f"{'TCP  1.2.3.4:80':<33}{numbers}"
    assert lines[4] == f"  -> {'10.0.0.1:80':<28}{numbers}"
    exact = sh(table, "-Ln --stats --exact").stdout.splitlines()
    assert exact[3] == (
        f"{'TCP  1.2.3.4:80':<33} 99999999 100000000 1000000000 100000000000 100000000000000"
    )


def test_rate_listing_never_abbreviates_destination_packet_rates(table: model.VirtualTable) -> None:
    ok(table, "-A -t 1.2.3.4:80", "-a -t 1.2.3.4:80 -r 10.0.0.1")
    svc = table.services[model.ServiceKey.tcp("1.2.3.4", 80)]
    for rates in (svc.rates, svc.destinations[0].rates):
        rates.cps, rates.inpps, rates.outpps = 123_456_789, 5, 6
        rates.inbps, rates.outbps = 123_456_789, 7
    lines = sh(table, "-Ln --rate").stdout.splitlines()
    assert lines[3] == f"{'TCP  1.2.3.4:80':<33}  123456K        5        6  123456K        7"
    # the destination's CPS/InPPS/OutPPS are printed with %8llu, never abbreviated
    assert lines[4] == f"  -> {'10.0.0.1:80':<28} 123456789        5        6  123456K        7"
