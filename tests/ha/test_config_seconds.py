"""lvs.cf: keepalive/deadtime take decimals, and pulse's extension keys."""

import pytest

from piranha.config import ConfigError, dumps, parse, update

BASE = "primary = 10.0.0.1\nservice = lvs\nvirtual web {\n active = 1\n address = 10.0.0.100 eth0:1\n}\n"


def cfg(extra: str):
    return parse(extra + BASE)


def test_decimal_heartbeat_times_parse_and_write_back():
    c = cfg("keepalive = 0.1\ndeadtime = 0.35\n")
    assert (c.keepalive, c.deadtime) == (0.1, 0.35)
    text = dumps(c)
    assert "keepalive = 0.1\n" in text and "deadtime = 0.35\n" in text
    assert parse(text) == c


def test_whole_numbers_stay_integers_as_before():
    c = cfg("keepalive = 6\ndeadtime = 18\n")
    assert (c.keepalive, c.deadtime) == (6, 18)
    assert isinstance(c.keepalive, int)
    assert "keepalive = 6\n" in dumps(c)
    octal = cfg("keepalive = 010\ndeadtime = 30\n")
    assert octal.keepalive == 8  # strtol, as the original read it
    assert any("octal" in w.message for w in octal.warnings)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("keepalive = 0.0001", "at most 3 decimals"),
        ("keepalive = 1.2.3", "seconds expected"),
        ("keepalive = .5", "seconds expected, e.g. 2 or 0.5"),
        ("deadtime = 0", "`deadtime` = 0 is out of range 0.01-2147483647"),
        ("keepalive = 0.001", "`keepalive` = 0.001 is out of range 0.01-2147483647"),
    ],
)
def test_bad_seconds_are_errors(line, message):
    with pytest.raises(ConfigError) as exc:
        cfg(line + "\n")
    assert message in str(exc.value)


def test_deadtime_not_above_keepalive_warns_with_decimals():
    c = cfg("keepalive = 0.5\ndeadtime = 0.5\n")
    assert any("deadtime = 0.5 is not longer than keepalive = 0.5" in w.message for w in c.warnings)


def test_update_keeps_comments_and_writes_decimals():
    text = "# heartbeat tuning\nkeepalive = 2\n" + BASE
    c = parse(text)
    c.keepalive = 0.25
    out = update(text, c)
    assert out.startswith("# heartbeat tuning\nkeepalive = 0.25\n")


def test_pulse_extension_keys_defaults_and_values():
    c = cfg("")
    assert (c.failback, c.failback_delay, c.warm_standby, c.garp_count, c.garp_interval) == (
        True,
        30,
        True,
        5,
        1,
    )
    c = cfg(
        "failback = 0\nfailback_delay = 2.5\nwarm_standby = 0\ngarp_count = 3\ngarp_interval = 0.2\n"
    )
    assert (c.failback, c.failback_delay, c.warm_standby, c.garp_count, c.garp_interval) == (
        False,
        2.5,
        False,
        3,
        0.2,
    )
    assert parse(dumps(c)) == c
    with pytest.raises(ConfigError, match="out of range 1-1000"):
        cfg("garp_count = 0\n")
