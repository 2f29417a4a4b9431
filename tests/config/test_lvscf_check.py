"""Semantic checks, on files and on configurations built in code."""

from __future__ import annotations

import pytest
from lvscf_helpers import env

from piranha.config import Config, ConfigError, Environment, Failover, Server, Virtual, check, parse


def base(extra_global: str = "", extra_virtual: str = "", servers: str | None = None) -> str:
    if servers is None:
        servers = "     server a {\n         address = 10.1.0.1\n         active = 1\n     }\n"
    return (
        "primary = 10.0.0.1\nnetwork = direct\n"
        + extra_global
        + "virtual www {\n     active = 1\n     address = 10.0.0.100 eth0:1\n"
        + extra_virtual
        + servers
        + "}\n"
    )


def errors(text: str, **kw) -> list[str]:
    try:
        parse(text, environment=env(**kw))
    except ConfigError as exc:
        return [str(e) for e in exc.errors]
    return []


def warnings(text: str, **kw) -> list[str]:
    return [d.message for d in parse(text, environment=env(**kw)).warnings]


def test_the_base_configuration_is_clean():
    assert errors(base()) == []
    assert warnings(base()) == []


def test_active_virtual_needs_an_address():
    text = "network = direct\nvirtual www {\n     active = 1\n     server a {\n         address = 10.1.0.1\n         active = 1\n     }\n}\n"
    assert errors(text) == [
        "lvs.cf:3:15: error: virtual `www` is active but has no address — add `address = IP DEVICE` (e.g. `address = 192.168.1.100 eth0:1`) or set `active = 0`"
    ]
    assert errors(text.replace("active = 1\n     server", "active = 0\n     server")) == []


def test_unknown_scheduler_suggests_the_nearest():
    (e,) = errors(base(extra_virtual="     scheduler = wlcc\n"))
    assert e.startswith("lvs.cf:6:18: error: unknown scheduler `wlcc` (known: rr, wrr, lc, wlc,")
    assert e.endswith("in virtual `www` — did you mean `wlc`?")


@pytest.mark.parametrize(
    "scheduler",
    ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "twos", "mh"],
)
def test_every_ipvs_scheduler_is_accepted(scheduler):
    assert errors(base(extra_virtual=f"     scheduler = {scheduler}\n")) == []


def test_non_contiguous_mask():
    (e,) = errors(base(extra_virtual="     vip_nmask = 255.0.255.0\n"))
    assert (
        e
        == "lvs.cf:6:18: error: `vip_nmask` = 255.0.255.0 is not a netmask (its one-bits must be contiguous, e.g. 255.255.255.0) in virtual `www`"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("     port = 0\n", "`port` = 0 is out of range 1-65535 in virtual `www`"),
        ("     port = 65536\n", "`port` = 65536 is out of range 1-65535 in virtual `www`"),
        ("     persistent = -1\n", "`persistent` = -1 is out of range 0-2678400 in virtual `www`"),
        (
            "     persistent = 2678401\n",
            "`persistent` = 2678401 is out of range 0-2678400 in virtual `www`",
        ),
        ("     timeout = 0\n", "`timeout` = 0 is out of range 1-2147483647 in virtual `www`"),
        ("     reentry = -3\n", "`reentry` = -3 is out of range 1-2147483647 in virtual `www`"),
        ("     fwmark = -1\n", "`fwmark` = -1 is out of range 0-4294967295 in virtual `www`"),
    ],
)
def test_ranges(line, message):
    (e,) = errors(base(extra_virtual=line))
    assert e.endswith(message)


def test_weight_range():
    servers = "     server a {\n         address = 10.1.0.1\n         active = 1\n         weight = 65536\n     }\n"
    (e,) = errors(base(servers=servers))
    assert (
        e
        == "lvs.cf:9:19: error: `weight` = 65536 is out of range 0-65535 in server `a` of virtual `www`"
    )


@pytest.mark.parametrize("key", ["keepalive", "deadtime"])
def test_heartbeat_times_must_be_positive(key):
    (e,) = errors(base(extra_global=f"{key} = 0\n"))
    assert f"`{key}` = 0 is out of range 0.01-" in e


def test_deadtime_not_above_keepalive_warns():
    assert warnings(base(extra_global="keepalive = 5\ndeadtime = 5\n")) == [
        "deadtime = 5 is not longer than keepalive = 5: the backup will take over after a single late heartbeat; use several keepalives"
    ]


def test_duplicate_active_services_name_both_blocks():
    second = "virtual two {\n     active = 1\n     address = 10.0.0.100 eth0:2\n}\n"
    (e,) = errors(base() + second)
    assert e == (
        "lvs.cf:13:16: error: virtual `two` is the same service as virtual `www` (line 3) (TCP 10.0.0.100:80);"
        " change the address, port, protocol or fwmark, or set active = 0"
    )
    assert errors(base() + second.replace("active = 1", "active = 0")) == []
    assert errors(base() + second.replace("eth0:2\n", "eth0:2\n     protocol = udp\n")) == []
    assert errors(base() + second.replace("eth0:2\n", "eth0:2\n     port = 443\n")) == []


def test_duplicate_fwmark_services():
    second = (
        "virtual two {\n     active = 1\n     address = 10.0.0.101 eth0:2\n     fwmark = 7\n}\n"
    )
    (e,) = errors(base(extra_virtual="     fwmark = 7\n") + second)
    assert "virtual `two` is the same service as virtual `www` (line 3) (fwmark 7)" in e


def test_fwmark_ports():
    assert (
        errors(
            base(
                extra_virtual="     fwmark = 3\n     fwmark_ports = 21,10000-20000\n     port = 21\n"
            )
        )
        == []
    )
    assert (
        errors(base(extra_virtual="     fwmark = 3\n     fwmark_ports = 80,443\n")) == []
    )  # port 80 by default
    (e,) = errors(base(extra_virtual="     fwmark_ports = 80,443\n"))
    assert (
        e
        == "lvs.cf:6:21: error: `fwmark_ports` needs `fwmark` (the firewall mark that groups these ports) in virtual `www`"
    )
    (e,) = errors(base(extra_virtual="     fwmark = 3\n     fwmark_ports = 443\n"))
    assert e.startswith(
        "lvs.cf:7:21: error: `port` = 80 is not among fwmark_ports 443 in virtual `www`;"
    )
    (e,) = errors(
        base(extra_virtual="     fwmark = 3\n     port = 8080\n     fwmark_ports = 443\n")
    )
    assert e.startswith("lvs.cf:7:13: error: `port` = 8080 is not among fwmark_ports 443")
    (e,) = errors(base(extra_virtual="     fwmark = 3\n     fwmark_ports = 80,x\n"))
    assert "`fwmark_ports` = 80,x: `x` is not a port (1-65535) or a range like 10000-20000" in e


def test_tunnel_needs_a_machine_that_can_tunnel():
    text = base().replace("network = direct", "network = tunnel")
    assert errors(text, tunnel_possible=None) == []
    assert errors(text, tunnel_possible=True) == []
    (e,) = errors(text, tunnel_possible=False)
    assert e == (
        "lvs.cf:2:11: error: network = tunnel, but this machine cannot tunnel (kernel IPVS and the ipip module are needed);"
        " use `network = direct` or `nat`"
    )


def test_backup_active_needs_a_backup():
    (e,) = errors(base(extra_global="backup_active = 1\n"))
    assert (
        e
        == "lvs.cf:3:17: error: backup_active = 1 but no `backup` address is set — set `backup = IP` of the backup router, or `backup_active = 0`"
    )
    (e,) = errors(base(extra_global="backup_active = 1\nbackup = 10.0.0.1\n"))
    assert "`backup` = 10.0.0.1 is the same address as `primary`" in e
    text = base(extra_global="backup_active = 1\nbackup = 10.0.0.2\n").replace(
        "primary = 10.0.0.1\n", ""
    )
    (e,) = errors(text)
    assert "backup_active = 1 but `primary` is not set" in e
    assert errors(base(extra_global="backup_active = 1\nbackup = 10.0.0.2\n")) == []


def test_explicit_zero_private_addresses_are_refused():
    (e,) = errors(base(extra_global="primary_private = 0.0.0.0\n"))
    assert (
        "`primary_private` = 0.0.0.0 is not a usable address; remove the line to leave it unset"
        in e
    )


def test_host_that_resolves_to_zero_is_refused_for_primary():
    with pytest.raises(ConfigError) as info:
        parse(
            base().replace("10.0.0.1\n", "zero.example\n", 1),
            environment=Environment.hermetic(hosts={"zero.example": "0.0.0.0"}),
        )
    assert "`primary` = zero.example resolves to 0.0.0.0" in str(info.value)


def test_pmask_rules():
    assert warnings(base(extra_virtual="     pmask = 255.255.255.0\n")) == [
        "`pmask` has no effect without `persistent` in virtual `www`"
    ]
    assert (
        warnings(base(extra_virtual="     persistent = 60\n     pmask = 255.255.255.255\n")) == []
    )


def test_nat_router_rules():
    text = base().replace("network = direct\n", "")
    assert warnings(text) == [
        "network = nat without `nat_router`: the real servers need a gateway address that moves with the active router; set `nat_router = IP DEVICE`"
    ]
    assert warnings(base(extra_global="nat_router = 10.1.0.254 eth1:1\n")) == [
        "`nat_router` has no effect with network = direct"
    ]
    assert warnings(text.replace("primary", "nat_router = 10.1.0.254 eth1:1\nprimary")) == []


def test_scheduler_flags():
    assert (
        errors(base(extra_virtual="     scheduler = sh\n     sched_flags = sh-fallback,sh-port\n"))
        == []
    )
    assert errors(base(extra_virtual="     scheduler = mh\n     sched_flags = mh-port\n")) == []
    (e,) = errors(base(extra_virtual="     sched_flags = sh-port\n"))
    assert e.endswith("scheduler flag `sh-port` needs `scheduler = sh` (virtual `www` uses wlc)")
    (e,) = errors(base(extra_virtual="     scheduler = sh\n     sched_flags = sh-fallbak\n"))
    assert "unknown scheduler flag `sh-fallbak`" in e and "did you mean `sh-fallback`?" in e
    assert warnings(base(extra_virtual="     sched_flags = flag-1\n")) == [
        "scheduler flag `flag-1` has no effect with scheduler wlc (virtual `www`)"
    ]


def test_use_regex_needs_a_valid_expect():
    assert (
        errors(base(extra_virtual='     use_regex = 1\n     expect = "^HTTP/1\\.[01] 200"\n')) == []
    )
    (e,) = errors(base(extra_virtual='     use_regex = 1\n     expect = "HTTP(1"\n'))
    assert e.startswith(
        "lvs.cf:7:15: error: `expect` is not a valid regular expression (use_regex = 1): missing ), unterminated subpattern"
    )
    # Without use_regex the same text is a plain prefix: fine.
    assert errors(base(extra_virtual='     expect = "HTTP(1"\n')) == []
    assert warnings(base(extra_virtual="     use_regex = 1\n")) == [
        "`use_regex` has no effect without `expect` in virtual `www`"
    ]


def test_send_with_send_program_warns():
    assert warnings(
        base(extra_virtual='     send = "x"\n     send_program = "/bin/check %h"\n')
    ) == ["`send` is ignored when `send_program` is set in virtual `www`"]


def test_service_without_active_blocks_warns():
    assert warnings(
        base().replace(
            "active = 1\n     address = 10.0.0.100", "active = 0\n     address = 10.0.0.100"
        )
    ) == ["service = lvs but no virtual block is active: pulse has nothing to run"]
    assert "service = fos but no failover block is active: pulse has nothing to run" in warnings(
        base(extra_global="service = fos\n")
    )


def test_failover_needs_its_commands():
    text = "service = fos\nfailover web {\n     active = 1\n     address = 10.0.0.50 eth0:3\n}\n"
    found = errors(text)
    assert found == [
        "lvs.cf:3:15: error: failover `web` is active but has no `start_cmd`; pulse needs it to move the service",
        "lvs.cf:3:15: error: failover `web` is active but has no `stop_cmd`; pulse needs it to move the service",
    ]
    text = text.replace(
        "eth0:3\n",
        'eth0:3\n     start_cmd = "httpd start"\n     stop_cmd = "/etc/init.d/httpd stop"\n',
    )
    assert warnings(text) == [
        "`start_cmd` is run without a shell or PATH search; start it with an absolute path in failover `web`"
    ]


def test_duplicate_real_servers():
    servers = (
        "     server a {\n         address = 10.1.0.1\n         active = 1\n     }\n"
        "     server b {\n         address = 10.1.0.1\n         active = 1\n         port = 80\n     }\n"
    )
    (e,) = errors(base(servers=servers))
    assert e.startswith(
        "lvs.cf:11:20: error: server `b` and server `a` (line 6) of virtual `www` are the same real server (10.1.0.1:80)"
    )


def test_active_server_needs_an_address():
    (e,) = errors(base(servers="     server a {\n         active = 1\n     }\n"))
    assert (
        e
        == "lvs.cf:7:19: error: server `a` of virtual `www` is active but has no address — add `address = IP` or set `active = 0`"
    )


def test_no_active_real_server_warns_unless_there_is_a_sorry_server():
    assert warnings(base(servers="")) == [
        "virtual `www` is active but has no active real server; it will refuse every connection"
    ]
    assert warnings(base(servers="", extra_virtual="     sorry_server = 127.0.0.1\n")) == []


def test_extension_rules():
    (e,) = errors(base(extra_global="heartbeat_key_file = keys/hb\n"))
    assert "`heartbeat_key_file` must be an absolute path" in e
    assert warnings(
        base(extra_global="dataplane = nftables\n", extra_virtual="     proxy_protocol = 1\n")
    ) == [
        "`proxy_protocol` needs the userspace data plane; it has no effect with dataplane = nftables"
    ]
    servers = "     server a {\n         address = 10.1.0.1\n         active = 1\n         uthreshold = 10\n         lthreshold = 20\n     }\n"
    assert warnings(base(servers=servers)) == [
        "`lthreshold` = 20 is above `uthreshold` = 10 in server `a` of virtual `www`"
    ]


@pytest.mark.parametrize("key", ["sync", "debug_level"])
def test_unused_global_keys_warn(key):
    value = "1" if key == "sync" else "NONE"
    (w,) = warnings(base(extra_global=f"{key} = {value}\n"))
    assert w.startswith(f"`{key}` has no effect")


# --- configurations built in code (the GUI) ----------------------------------------------------
def good() -> Config:
    return Config(
        primary="10.0.0.1",
        network="direct",
        virtuals=[
            Virtual(
                "www",
                active=True,
                address="10.0.0.100",
                device="eth0:1",
                servers=[Server("a", address="10.1.0.1", active=True)],
            )
        ],
    )


def test_check_of_a_good_config_built_in_code():
    assert check(good(), env()) == []


def test_check_reports_blocks_by_name_when_there_is_no_location():
    c = good()
    c.virtuals[0].servers[0].weight = 70000
    (d,) = check(c, env())
    assert (d.line, d.col, d.scope, d.key) == (0, 0, ("virtuals", 0, "servers", 0), "weight")
    assert (
        str(d)
        == "lvs.cf: error: `weight` = 70000 is out of range 0-65535 in server `a` of virtual `www`"
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda c: (
                setattr(c.virtuals[0], "weight", 1)
                or setattr(c.virtuals[0].servers[0], "weight", "heavy")
            ),
            "`weight` must be an integer, not 'heavy'",
        ),
        (lambda c: setattr(c.virtuals[0], "active", 1), "`active` must be a boolean, not 1"),
        (
            lambda c: setattr(c.virtuals[0], "port", None),
            "`port` must have a value in virtual `www` (its default is 80)",
        ),
        (
            lambda c: setattr(c.virtuals[0], "send", "GET /\nX-Evil: 1"),
            "U+000A (newline) in `send`; lvs.cf values are single lines without control characters",
        ),
        (lambda c: setattr(c, "active_cmd", "/bin/true\x00; rm"), "U+0000 (NUL) in `active_cmd`"),
        (
            lambda c: setattr(c.virtuals[0], "send", "a \"b\" 'c'"),
            "`send` holds both `\"` and `'` and blanks; lvs.cf has no way to quote that",
        ),
        (
            lambda c: setattr(c.virtuals[0], "device", None),
            "`address` needs a device as well, e.g. `address = 10.0.0.100 eth0:1`",
        ),
        (
            lambda c: setattr(c.virtuals[0], "device", "eth0/1"),
            "`eth0/1` is not a valid device name for `address`",
        ),
        (
            lambda c: setattr(c.virtuals[0], "device", "averyveryverylongname"),
            "device `averyveryverylongname` of `address` must be 1-15 characters",
        ),
        (
            lambda c: setattr(c.virtuals[0], "address", "10.1"),
            "`address` = 10.1 must be written as a dotted quad: 10.0.0.1",
        ),
        (
            lambda c: setattr(c.virtuals[0], "address", "not a host"),
            "`address` = not a host is neither an IPv4 address nor a host name",
        ),
        (lambda c: setattr(c.virtuals[0], "name", ""), "a virtual block needs a non-empty name"),
        (
            lambda c: setattr(c.virtuals[0], "name", "a\nb"),
            "U+000A (newline) in the name of a virtual block",
        ),
        (
            lambda c: setattr(c, "network", "NAT"),
            "`network` = NAT is not valid (known: nat, direct, tunnel) — did you mean `nat`?",
        ),
        (lambda c: setattr(c, "nat_router", "10.0.0.254"), "`nat_router` needs a device as well"),
        (lambda c: setattr(c.virtuals[0], "dirs", ["a", 3]), "`dirs` must be a list of strings"),
    ],
)
def test_check_catches_what_code_can_get_wrong(mutate, message):
    c = good()
    mutate(c)
    found = [d.message for d in check(c, env()) if d.is_error]
    assert any(message in m for m in found), found


def test_both_quotes_are_fine_in_a_value_that_needs_no_quotes():
    c = good()
    c.virtuals[0].send = "a\"b'c"
    assert [d for d in check(c, env()) if d.is_error] == []


def test_check_uses_the_environment_for_host_names():
    c = good()
    c.virtuals[0].servers[0].address = "web"
    assert check(c, env()) == []
    (d,) = check(c, Environment.hermetic())
    assert (
        d.message
        == "cannot resolve host name `web` for `address`; use an IPv4 address or fix name resolution in server `a` of virtual `www`"
    )


def test_failover_duplicates_and_missing_address():
    c = Config(
        service="fos",
        failovers=[
            Failover(
                "a",
                active=True,
                address="10.0.0.5",
                device="eth0:1",
                start_cmd="/bin/a",
                stop_cmd="/bin/b",
            ),
            Failover(
                "b",
                active=True,
                address="10.0.0.5",
                device="eth0:2",
                start_cmd="/bin/a",
                stop_cmd="/bin/b",
            ),
            Failover("c", active=True, start_cmd="/bin/a", stop_cmd="/bin/b"),
        ],
    )
    messages = [d.message for d in check(c, env()) if d.is_error]
    assert messages == [
        "failover `c` is active but has no address — add `address = IP DEVICE` or set `active = 0`",
        "failover `b` is the same service as failover `a` (10.0.0.5:80); change one, or set active = 0",
    ]
