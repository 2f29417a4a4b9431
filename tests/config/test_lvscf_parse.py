"""parse(): the model it builds, and the syntax errors it reports."""

from __future__ import annotations

import pytest
from lvscf_helpers import EXAMPLE_1_6, env

from piranha.config import Config, ConfigError, Diagnostic, Server, Virtual, parse

VIRTUAL_OK = "virtual www {\n     active = 1\n     address = 10.0.0.1 eth0:1\n%s     server a {\n         address = 10.1.0.1\n         active = 1\n     }\n}\n"


def errors_of(text: str, **kw) -> list[Diagnostic]:
    with pytest.raises(ConfigError) as info:
        parse(text, environment=env(**kw))
    return info.value.errors


def one_error(text: str, **kw) -> Diagnostic:
    errors = errors_of(text, **kw)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


def ok(text: str, **kw) -> Config:
    return parse(text, environment=env(**kw))


def warnings_of(text: str) -> list[str]:
    return [w.message for w in ok(text).warnings]


# --- the model --------------------------------------------------------------------------
def test_the_annotated_example_reads_field_for_field():
    c = ok(EXAMPLE_1_6)
    assert (c.serial_no, c.primary, c.service, c.rsh_command) == (14, "192.168.0.10", "lvs", "ssh")
    assert c.backup_active is True and c.backup == "192.168.0.11"
    assert (c.heartbeat, c.heartbeat_port, c.keepalive, c.deadtime) == (True, 539, 6, 18)
    assert (c.network, c.nat_router, c.nat_router_device, c.nat_nmask) == (
        "nat",
        "10.0.0.254",
        "eth1:1",
        "255.255.255.0",
    )
    assert (c.debug_level, c.monitor_links, c.syncdaemon, c.syncd_iface, c.syncd_id) == (
        "NONE",
        0,
        True,
        "eth1",
        0,
    )
    (v,) = c.virtuals
    assert (v.name, v.active, v.address, v.device, v.vip_nmask) == (
        "www",
        True,
        "192.168.0.100",
        "eth0:1",
        "255.255.255.0",
    )
    assert (v.port, v.persistent, v.pmask, v.scheduler, v.protocol) == (
        80,
        60,
        "255.255.255.0",
        "wlc",
        "tcp",
    )
    assert v.send == "GET / HTTP/1.0\\r\\n\\r\\n"  # quotes removed, backslashes literal
    assert (v.expect, v.use_regex, v.load_monitor, v.timeout, v.reentry, v.quiesce_server) == (
        "HTTP",
        False,
        "none",
        6,
        15,
        False,
    )
    assert [(s.name, s.address, s.active, s.port, s.weight) for s in v.servers] == [
        ("web1", "10.0.0.2", True, None, 1),
        ("web2", "10.0.0.3", True, 8080, 2),
    ]
    assert [v.server_port(s) for s in v.servers] == [80, 8080]
    assert c.effective_primary_private == "192.168.0.10"
    assert c.effective_backup_private == "192.168.0.11"


def test_defaults_are_the_originals():
    c = ok("serial_no = 1\n")
    assert (c.primary, c.backup, c.backup_active, c.heartbeat_port, c.keepalive, c.deadtime) == (
        "0.0.0.0",
        "0.0.0.0",
        False,
        539,
        2,
        5,
    )
    assert (c.rsh_command, c.network, c.service, c.hard_shutdown, c.ipvsadm, c.dataplane) == (
        "rsh",
        "nat",
        "lvs",
        True,
        "/sbin/ipvsadm",
        "auto",
    )
    assert c.primary_private is None and c.nat_router is None and c.heartbeat is None
    v = Virtual("x")
    assert (v.active, v.port, v.scheduler, v.protocol, v.timeout, v.reentry, v.fwmark) == (
        False,
        80,
        "wlc",
        "tcp",
        10,
        180,
        0,
    )
    assert (Server("s").weight, Server("s").active, Server("s").port) == (1, False, None)


def test_bookkeeping_does_not_take_part_in_equality():
    a, b = ok(EXAMPLE_1_6), ok("\n\n" + EXAMPLE_1_6)
    assert a == b
    assert a.virtuals[0].loc != b.virtuals[0].loc
    assert a.virtuals[0].origin == 19 and b.virtuals[0].origin == 21
    assert a.virtuals[0].loc["{"] == (19, 1)
    assert a.virtuals[0].loc["port"] == (23, 13)  # the value's column
    assert a.virtuals[0].servers[1].loc["}"] == (45, 6)


def test_server_port_follows_the_virtual_wherever_port_is_written():
    # The original copied the port when it read `server`, so a later `port =` was ignored.
    text = "virtual www {\n active = 1\n address = 10.0.0.1 eth0:1\n server a {\n  address = 10.1.0.1\n  active = 1\n }\n port = 8080\n}\n"
    c = ok(text)
    v = c.virtuals[0]
    assert v.servers[0].port is None and v.server_port(v.servers[0]) == 8080


def test_primary_private_absent_does_not_clobber_backup_private():
    c = ok("primary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_private = 10.9.9.2\n")
    assert c.effective_backup_private == "10.9.9.2"
    assert c.effective_primary_private == "10.0.0.1"


def test_host_names_are_kept_as_written_and_checked_through_the_environment():
    c = ok("primary = lb1.example.com\n")
    assert c.primary == "lb1.example.com"
    e = one_error("primary = nosuch.example.com\n")
    assert (e.line, e.col, e.token) == (1, 11, "nosuch.example.com")
    assert "cannot resolve host name `nosuch.example.com`" in e.message


def test_inet_aton_forms_are_normalised_with_a_warning():
    c = ok("primary = 10.1\nbackup = 012.0.0.1\n")
    assert (c.primary, c.backup) == ("10.0.0.1", "10.0.0.1")
    assert "`10.1` is read as 10.0.0.1; write 10.0.0.1" in [w.message for w in c.warnings]
    assert "`012.0.0.1` is read as 10.0.0.1; write 10.0.0.1" in [w.message for w in c.warnings]


def test_numbers_in_other_bases_are_read_like_strtol_with_a_warning():
    c = ok("keepalive = 010\ndeadtime = 0x20\n")
    assert (c.keepalive, c.deadtime) == (8, 32)
    messages = [w.message for w in c.warnings]
    assert "`010` is read as octal: keepalive = 8; write 8 if that is meant" in messages
    assert "`0x20` is read as hexadecimal: deadtime = 32; write 32 if that is meant" in messages


def test_port_service_names():
    c = ok(VIRTUAL_OK % "     port = https\n")
    assert c.virtuals[0].port == 443
    e = one_error(VIRTUAL_OK % "     port = htp\n")
    assert (e.line, e.col) == (4, 13)
    assert "unknown service name `htp`" in e.message and "write the port number" in e.message
    # The real environment reads /etc/services through getservbyname.
    from piranha.config import Environment

    assert Environment().service_port("http") == 80


def test_values_may_be_quoted_and_single_quotes_are_removed_too():
    c = ok(
        VIRTUAL_OK % '     port = "81"\n     send = \'HEAD / HTTP/1.0\'\n     expect = "it\'s"\n'
    )
    v = c.virtuals[0]
    assert (v.port, v.send, v.expect) == (81, "HEAD / HTTP/1.0", "it's")


def test_dirs_list_and_unused_keys_survive_with_a_warning():
    c = ok(VIRTUAL_OK % '     dirs = [ /var/www "/srv/my site" ]\n     master = 10.0.0.9\n')
    v = c.virtuals[0]
    assert v.dirs == ["/var/www", "/srv/my site"] and v.master == "10.0.0.9"
    messages = [w.message for w in c.warnings]
    assert "`dirs` has no effect in virtual `www`" in messages
    assert "`master` has no effect in virtual `www`" in messages


def test_cr_only_and_mixed_line_ends_read_the_same():
    base = ok(EXAMPLE_1_6)
    assert ok(EXAMPLE_1_6.replace("\n", "\r")) == base
    assert ok(EXAMPLE_1_6.replace("\n", "\r\n")) == base
    lines = EXAMPLE_1_6.split("\n")
    mixed = "".join(line + ("\n", "\r\n", "\r")[i % 3] for i, line in enumerate(lines))
    assert ok(mixed) == base


def test_blanks_may_be_tabs_and_runs():
    c = ok("virtual\t www \t{\n\tactive\t=\t1\n   address  =  10.0.0.1\t\teth0:1\n}\n")
    assert (c.virtuals[0].address, c.virtuals[0].device) == ("10.0.0.1", "eth0:1")


def test_a_quoted_name_may_hold_blanks():
    c = ok('virtual "my www" {\n}\n')
    assert c.virtuals[0].name == "my www"


# --- syntax errors ------------------------------------------------------------------------------
def test_diagnostic_format():
    e = one_error("keepalive = two\n")
    assert str(e) == "lvs.cf:1:13: error: integer expected for `keepalive`, found `two`"
    assert (e.severity, e.file, e.line, e.col, e.token, e.key) == (
        "error",
        "lvs.cf",
        1,
        13,
        "two",
        "keepalive",
    )


def test_filename_appears_in_diagnostics():
    with pytest.raises(ConfigError) as info:
        parse("keepalive = x\n", filename="/etc/sysconfig/ha/lvs.cf", environment=env())
    assert str(info.value).startswith("/etc/sysconfig/ha/lvs.cf:1:13: error:")


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        (
            "port=80\n",
            1,
            1,
            "equal (=) expected after `port`: put blanks around `=`, as in `port = 80`",
        ),
        (
            "keepalive= 2\n",
            1,
            1,
            "equal (=) expected after `keepalive`: put blanks around `=`, as in `keepalive = ...`",
        ),
        (
            "keepalive =2\n",
            1,
            11,
            "equal (=) expected after `keepalive`: put blanks around `=`, as in `keepalive = 2`",
        ),
        ("keepalive 2\n", 1, 11, "equal (=) expected after `keepalive`, found `2`"),
        ("keepalive\n", 1, 10, "`=` and a value expected after `keepalive`"),
        ("keepalive =\n", 1, 12, "missing value after `keepalive =`"),
        ("keepalive = 2 3\n", 1, 15, "too many values for `keepalive`: unexpected `3`"),
        (
            "rsh_command = ssh -q\n",
            1,
            19,
            "too many values for `rsh_command`: unexpected `-q`; quote a value that contains blanks",
        ),
        (
            "keepalive = 2 # seconds\n",
            1,
            15,
            "comments must be on a line of their own (`# seconds` follows the value of `keepalive`)",
        ),
        ("backup_active = 2\n", 1, 17, "boolean expected for `backup_active`: 0 or 1, found `2`"),
        (
            "backup_active = yes\n",
            1,
            17,
            "boolean (0 or 1) expected for `backup_active`, found `yes`",
        ),
        (
            "keepalive = 08\n",
            1,
            13,
            "integer expected for `keepalive`, found `08` (a leading 0 makes it octal, and octal has no 8 or 9)",
        ),
        (
            "keepalyve = 2\n",
            1,
            1,
            "unknown keyword `keepalyve` at the top level — did you mean `keepalive`?",
        ),
        ("frobnicate = 2\n", 1, 1, "unknown keyword `frobnicate` at the top level"),
        (
            "weight = 2\n",
            1,
            1,
            "`weight` does not belong at the top level; it is a keyword of server blocks",
        ),
        (
            "primary = 1.2.3.256\n",
            1,
            11,
            "`1.2.3.256` is not a valid IPv4 address (four numbers 0-255, e.g. 192.168.1.10)",
        ),
        (
            "primary = bad_host!\n",
            1,
            11,
            "invalid host name or IP address `bad_host!` for `primary`",
        ),
        (
            "nat_nmask = 255.255.255.0.0\n",
            1,
            13,
            "bad subnet mask `255.255.255.0.0` for `nat_nmask`; write a dotted quad such as 255.255.255.0",
        ),
        (
            "nat_router = 10.0.0.254\n",
            1,
            24,
            "`nat_router` needs two values, the IP address and the device, e.g. `nat_router = 10.0.0.254 eth0:1`",
        ),
        (
            'rsh_command = "ssh\n',
            1,
            15,
            "quotation mismatch: the double quote opened here is not closed on this line",
        ),
        ("}\n", 1, 1, "`}` without an open block; is there one `}` too many?"),
        ("{\n", 1, 1, "unexpected `{`; a block starts with `virtual NAME {` on one line"),
        (
            "server a {\n}\n",
            1,
            1,
            "server `a` at the top level: server blocks belong inside a `virtual NAME {` block",
        ),
        ("virtual {\n}\n", 1, 1, "virtual block without a name: write `virtual NAME {`"),
        ('virtual "" {\n}\n', 1, 9, "virtual block with an empty name"),
        ("virtual www{\n}\n", 1, 12, "put a blank before `{`: `virtual NAME {`"),
        (
            "virtual www {\n} extra\n",
            2,
            3,
            "unexpected `extra` after `}`; a `}` must be alone on its line",
        ),
    ],
)
def test_syntax_errors(text, line, col, message):
    e = one_error(text)
    assert (e.line, e.col, e.message) == (line, col, message)


def test_sorry_server_takes_no_host_names():
    e = one_error(VIRTUAL_OK % "     sorry_server = lb1.example.com\n")
    assert (
        e.message
        == "`sorry_server` needs an IPv4 address, found `lb1.example.com` (host names are not accepted here)"
    )


def test_header_with_blanks_in_the_name_suggests_quotes_and_keeps_reading():
    # The five-node example's `virtual server vs1 {`.
    errors = errors_of(
        "virtual server vs1 {\n address = 1.2.3.1 eth0:1\n active = 1\n}\nkeepalive = x\n"
    )
    assert [(e.line, e.col) for e in errors] == [(1, 9), (5, 13)]
    assert (
        errors[0].message
        == 'the name `server vs1` has blanks; write `virtual vs1 {`, or quote the name: `virtual "server vs1" {`'
    )


def test_brace_on_the_next_line_is_reported_once():
    errors = errors_of("virtual www\n{\n active = 0\n}\n")
    assert len(errors) == 1
    assert (
        errors[0].message
        == "`{` expected at the end of `virtual www`; a block opens with `virtual NAME {` on one line"
    )


def test_end_of_file_inside_a_block_names_the_block_and_its_line():
    text = "serial_no = 1\nvirtual www {\n active = 0\n server a {\n  weight = 1\n }\n"
    e = one_error(text)
    assert (e.line, e.message) == (
        6,
        "virtual `www` opened on line 2 is not closed: `}` missing at the end of the file",
    )


def test_a_block_opening_inside_another_closes_it_with_an_error():
    text = "virtual a {\n active = 0\nvirtual b {\n active = 0\n}\n"
    e = one_error(text)
    assert (
        e.line == 3
        and e.message
        == "virtual `b` starts inside virtual `a` (line 1); close that one with `}` first"
    )
    text = "virtual a {\n server s {\n  weight = 1\n server t {\n }\n}\n"
    e = one_error(text)
    assert (
        e.message
        == "server `t` starts inside server `s` of virtual `a` (line 2); close that one with `}` first"
    )


def test_keywords_out_of_place_in_blocks():
    e = one_error("failover f {\n scheduler = wlc\n}\n")
    assert (
        e.message
        == "`scheduler` does not belong in failover `f`; it is a keyword of virtual blocks"
    )
    e = one_error("virtual v {\n keepalive = 2\n}\n")
    assert (
        e.message
        == "`keepalive` does not belong in virtual `v`; it is a keyword of the global section"
    )
    e = one_error("virtual v {\n schedular = wlc\n}\n")
    assert e.message == "unknown keyword `schedular` in virtual `v` — did you mean `scheduler`?"
    e = one_error("virtual v {\n server s {\n  wieght = 2\n }\n}\n")
    assert (
        e.message
        == "unknown keyword `wieght` in server `s` of virtual `v` — did you mean `weight`?"
    )
    e = one_error("failover f {\n server s {\n }\n}\n")
    assert (
        e.message
        == "server `s` inside failover `f`: server blocks belong inside a `virtual NAME {` block"
    )


def test_every_error_in_one_pass_without_cascades():
    text = (
        "keepalive = x\n"  # 1
        "primary=1.2.3.4\n"  # 2
        "virtual www {\n"  # 3
        "     active = 1\n"  # 4
        "     address = 10.0.0.1\n"  # 5: one value only
        "     schedular = wlc\n"  # 6
        "     server a {\n"  # 7
        "          weight = heavy\n"  # 8
        "     }\n"  # 9
        "}\n"  # 10
        "virtual ok {\n"  # 11
        "     active = 1\n"  # 12
        "     address = 10.0.0.2 eth0:1\n"  # 13
        "     scheduler = foo\n"  # 14: semantic, in a block without syntax errors
        "}\n"
    )
    errors = errors_of(text)
    assert [(e.line, e.col) for e in errors] == [
        (1, 13),
        (2, 1),
        (5, 24),
        (6, 6),
        (8, 20),
        (14, 18),
    ]
    # No "active but has no address" for www: its address line was unreadable.
    assert not any("has no address" in e.message for e in errors)


def test_semantic_errors_in_blocks_with_syntax_errors_wait_for_the_syntax_fix():
    text = (
        "virtual www {\n active = 1\n address = 10.0.0.1 eth0:1\n weight = 3\n scheduler = foo\n}\n"
    )
    assert [e.line for e in errors_of(text)] == [4]


def test_empty_configuration():
    for text in ["", "\n\n", "  \t\r\n"]:
        e = one_error(text)
        assert e.message == "empty configuration: the file has no settings (was it truncated?)"
    # Comments only is a (useless) configuration: a warning, not an error.
    assert "service = lvs but no virtual block is active: pulse has nothing to run" in warnings_of(
        "# nothing yet\n"
    )


# --- warnings ------------------------------------------------------------------------------
def test_duplicate_keys_later_wins_with_a_warning_naming_both_lines():
    c = ok("keepalive = 2\ndeadtime = 9\nkeepalive = 3\n")
    assert c.keepalive == 3
    (w,) = [w for w in c.warnings if "twice" in w.message]
    assert (w.line, w.col, w.message) == (
        3,
        1,
        "`keepalive` is set twice in the global section (lines 1 and 3); the value on line 3 wins",
    )


def test_duplicate_block_names_warn():
    text = "virtual a {\n}\nvirtual a {\n}\n"
    (w,) = [w for w in ok(text).warnings if "named" in w.message]
    assert (w.line, w.message) == (
        3,
        "two virtual blocks are named `a` (the other is on line 1); the GUI and the logs cannot tell them apart",
    )


def test_heartbeat_has_no_effect():
    assert (
        "`heartbeat` has no effect: heartbeats follow `backup_active` (the GUI always wrote 1)"
        in warnings_of("heartbeat = 1\n")
    )


def test_bom_at_the_start_is_tolerated():
    assert ok("\ufeffkeepalive = 3\n").keepalive == 3
