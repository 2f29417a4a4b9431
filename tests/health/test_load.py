"""Load monitoring: the command, the three output formats, the weight formula."""

import math

import pytest

from piranha.health.load import load_argv, load_weight, parse_load


def test_commands():
    assert load_argv(None, "rsh", "10.0.0.2") is None
    assert load_argv("none", "rsh", "10.0.0.2") is None
    assert load_argv("uptime", "ssh -o BatchMode=yes", "10.0.0.2") == [
        "ssh", "-o", "BatchMode=yes", "10.0.0.2", "uptime",
    ]  # fmt: skip
    assert load_argv("rup", "rsh", "10.0.0.2") == ["rup", "10.0.0.2"]
    assert load_argv("ruptime", "rsh", "10.0.0.2") == ["ruptime", "10.0.0.2"]
    assert load_argv("ssh", "rsh", "10.0.0.2") == ["ssh", "10.0.0.2", "uptime"]
    assert load_argv("/usr/local/bin/load -q", "rsh", "10.0.0.2") == [
        "/usr/local/bin/load", "-q", "10.0.0.2",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("output", "load"),
    [
        (" 10:14:07 up 3 days,  2:03,  2 users,  load average: 0.00, 0.01, 0.05\n", 0.0),
        (" 10:14:07 up 12 min,  1 user,  load average: 1.52, 0.40, 0.12\n", 1.52),
        ("10:14  up 3 days,  2:03, 2 users, load averages: 1.20 1.10 0.90\n", 1.20),
        ("host1     up  3 days,  2:03,     load average: 0.27, 0.10, 0.03\n", 0.27),
        ("host1       up  3+04:05,     2 users,  load 0.07, 0.03, 0.01\n", 0.07),
        ("web-1       up     4:05,     0 users,  load 2.50, 1.00, 0.50\n", 2.50),
        ("load1       up     4:05,     0 users,  load 3.00, 1.00, 0.50\n", 3.0),
    ],
)
def test_uptime_rup_and_ruptime_outputs(output, load):
    assert parse_load(output) == pytest.approx(load)


def test_ruptime_listing_takes_the_first_host_with_a_load():
    listing = (
        "dead1       down  2+01:00\nweb1        up    1+00:02,  0 users,  load 0.50, 0.20, 0.10\n"
    )
    assert parse_load(listing) == 0.5


@pytest.mark.parametrize("output", ["", "rsh: connection refused", "load average: n/a", "load1 up"])
def test_garbage_has_no_load(output):
    assert parse_load(output) is None


def _c_formula(current, weight, load, scale):
    # nanny.c adjustWeight(), transcribed: C int arithmetic truncates toward zero.
    if load < 0 or load == 1.0:
        return current
    if load < 1.0:
        new = math.trunc(current + weight / 2 * (1.0 - load) ** (1 / 3))
        new = min(new, scale * weight)
    else:
        new = math.trunc(current - weight / 2 * (load - 1.0) ** (1 / 3))
        new = max(new, weight)
    return new if abs(new - current) >= weight / 4 else current


@pytest.mark.parametrize("current", [1, 10, 50, 100, 400, 1000])
@pytest.mark.parametrize("weight", [1, 4, 10, 100])
@pytest.mark.parametrize("load", [0.0, 0.1, 0.5, 0.99, 1.0, 1.01, 1.5, 3.0, 20.0])
def test_weight_formula_is_the_originals(current, weight, load):
    expected = _c_formula(current, weight, load, 10)
    got = load_weight(current, weight, load, 10)
    assert (current if got is None else got) == expected


def test_idle_servers_climb_to_scale_times_their_weight_and_busy_ones_fall_back():
    w, cur = 100, 100
    for _ in range(40):
        cur = load_weight(cur, w, 0.0, 10) or cur
    assert cur == 1000
    for _ in range(40):
        cur = load_weight(cur, w, 9.0, 10) or cur
    assert cur == 100  # never below the configured weight
