"""dumps(): the Configuration Tool's canonical layout."""

from __future__ import annotations

import pytest
from lvscf_helpers import EXAMPLE_1_6, env

from piranha.config import Config, ConfigError, Failover, Server, Virtual, dumps, parse
from piranha.config.writer import render_token


def test_the_annotated_example_is_exactly_what_dumps_writes():
    assert dumps(parse(EXAMPLE_1_6, environment=env())) == EXAMPLE_1_6


def test_layout_failovers_before_virtuals_and_fixed_indents():
    c = Config(
        serial_no=3,
        primary="10.0.0.1",
        service="fos",
        network="direct",
        failovers=[
            Failover(
                "ftp",
                active=True,
                address="10.0.0.9",
                device="eth0:2",
                port=21,
                start_cmd="/etc/init.d/vsftpd start",
                stop_cmd="/etc/init.d/vsftpd stop",
            )
        ],
        virtuals=[
            Virtual(
                "www",
                address="10.0.0.10",
                device="eth0:1",
                servers=[Server("a", address="10.1.0.1", active=True, port=8080, weight=3)],
            )
        ],
    )
    assert dumps(c) == (
        "serial_no = 3\n"
        "primary = 10.0.0.1\n"
        "service = fos\n"
        "rsh_command = rsh\n"
        "backup_active = 0\n"
        "heartbeat_port = 539\n"
        "keepalive = 2\n"
        "deadtime = 5\n"
        "network = direct\n"
        "monitor_links = 0\n"
        "syncdaemon = 0\n"
        "failover ftp {\n"
        "     address = 10.0.0.9 eth0:2\n"
        "     active = 1\n"
        "     port = 21\n"
        "     timeout = 10\n"
        '     start_cmd = "/etc/init.d/vsftpd start"\n'
        '     stop_cmd = "/etc/init.d/vsftpd stop"\n'
        "}\n"
        "virtual www {\n"
        "     active = 0\n"
        "     address = 10.0.0.10 eth0:1\n"
        "     port = 80\n"
        "     use_regex = 0\n"
        "     scheduler = wlc\n"
        "     protocol = tcp\n"
        "     timeout = 10\n"
        "     reentry = 180\n"
        "     quiesce_server = 0\n"
        "     server a {\n"
        "         address = 10.1.0.1\n"
        "         active = 1\n"
        "         port = 8080\n"
        "         weight = 3\n"
        "     }\n"
        "}\n"
    )


def test_extension_keys_follow_the_original_ones_in_a_fixed_order():
    c = Config(
        autoreload=True,
        dataplane="userspace",
        expire_nodest_conn=True,
        hard_shutdown=False,
        tcp_timeout=900,
    )
    lines = dumps(c).splitlines()
    assert (
        lines.index("tcp_timeout = 900")
        < lines.index("hard_shutdown = 0")
        < lines.index("dataplane = userspace")
    )
    assert (
        lines.index("dataplane = userspace")
        < lines.index("expire_nodest_conn = 1")
        < lines.index("autoreload = 1")
    )


def test_sync_daemon_settings_are_written_with_the_daemon():
    assert "syncd_iface" not in dumps(Config())
    text = dumps(Config(syncdaemon=True))
    assert "syncdaemon = 1\nsyncd_iface = eth0\nsyncd_id = 0\n" in text


@pytest.mark.parametrize(
    ("value", "force", "token"),
    [
        ("wlc", False, "wlc"),
        ("GET / HTTP/1.0\\r\\n", False, '"GET / HTTP/1.0\\r\\n"'),
        ("HTTP", True, '"HTTP"'),
        ("", False, '""'),
        ('say "hi" now', False, "'say \"hi\" now'"),
        ("it's here", False, '"it\'s here"'),
        ("'quoted'", False, "\"'quoted'\""),
        ("#hash", False, '"#hash"'),
        ("=", False, '"="'),
        ("{", False, '"{"'),
        ('a"b', False, 'a"b'),
        ("a\"b'c", True, "a\"b'c"),  # both quotes, no blank: bare is the only way
        ("a \"b\" 'c'", False, None),
    ],
)
def test_render_token(value, force, token):
    assert render_token(value, force) == token


def test_gui_keys_are_always_double_quoted():
    v = Virtual("x", send="HEAD", expect="HTTP", send_program="/bin/chk")
    text = dumps(Config(virtuals=[v]))
    assert '     send = "HEAD"\n     expect = "HTTP"\n' in text
    assert '     send_program = "/bin/chk"\n' in text


def test_names_and_lists_are_quoted_when_needed():
    v = Virtual("my www", dirs=["/a", "b c", "]"])
    text = dumps(Config(virtuals=[v]))
    assert 'virtual "my www" {\n' in text
    assert '     dirs = [ /a "b c" "]" ]\n' in text
    assert parse(text, environment=env()) == Config(virtuals=[v])


def test_dumps_refuses_values_it_cannot_write():
    with pytest.raises(ConfigError) as info:
        dumps(Config(virtuals=[Virtual("x", send="a\nb")]))
    assert "U+000A (newline) in `send`" in str(info.value)
    with pytest.raises(ConfigError):
        dumps(Config(virtuals=[Virtual("x", address="10.0.0.1")]))  # no device


def test_dumps_writes_what_it_can_and_leaves_judgement_to_check():
    c = Config(
        keepalive=0, network="NAT", virtuals=[Virtual("x", servers=[Server("s", weight=70000)])]
    )
    text = dumps(c)
    assert "keepalive = 0\n" in text and "network = NAT\n" in text and "weight = 70000\n" in text
    with pytest.raises(ConfigError):
        parse(text, environment=env())


def test_unset_and_default_keys_are_skipped():
    text = dumps(Config())
    for key in (
        "primary",
        "backup ",
        "nat_router",
        "heartbeat ",
        "primary_private",
        "tcp_timeout",
        "dataplane",
        "hard_shutdown",
    ):
        assert f"\n{key}" not in text and not text.startswith(key)
