"""Start-up checks: one finding per problem, each with the command that fixes it."""

from __future__ import annotations

from piranha.lvsd import build, preflight

from .cfg import config, resolve, server, virtual


def facts(
    *,
    forward: bool | None = True,
    local: set[str] | None = None,
    routes: dict[str, str] | None = None,
) -> preflight.Facts:
    local = {"192.168.0.1"} if local is None else local
    routes = routes or {}
    return preflight.Facts(
        ip_forward=lambda: forward,
        is_local=lambda a: a in local,
        route_device=lambda a: routes.get(a, "eth1"),
    )


WWW = virtual("www", "192.168.0.1", server("web1", "10.0.0.2"), server("web2", "10.0.0.3"))


def findings(
    *virtuals: str, dataplane: str = "nftables", globals_: str = "", **kw: object
) -> list[str]:
    cfg = config(*virtuals, globals_=globals_)
    return preflight.check(cfg, build.plan(cfg, resolve), dataplane, facts(**kw))  # type: ignore[arg-type]


def test_a_sound_machine_has_nothing_to_say() -> None:
    assert findings(WWW) == []
    assert findings(WWW, dataplane="userspace") == []


def test_ip_forwarding_off_for_nat_on_a_kernel_data_plane() -> None:
    (finding,) = findings(WWW, forward=False)
    assert finding.startswith("IP forwarding is off (net.ipv4.ip_forward = 0)")
    assert "`sysctl -w net.ipv4.ip_forward=1`" in finding
    assert findings(WWW, forward=False, dataplane="userspace") == []  # a proxy does not forward
    assert findings(WWW, forward=None) == []  # cannot tell: say nothing


def test_vip_not_local() -> None:
    v = virtual("www", "192.168.0.9", server("web1", "10.0.0.2"), extra="vip_nmask = 255.255.255.0")
    (finding,) = findings(v, dataplane="userspace")
    assert finding == (
        "virtual server www: 192.168.0.9 is not an address of this machine, so the userspace "
        "data plane cannot listen on it; pulse brings the virtual addresses up on the active "
        "router — to run lvsd on its own, add it with "
        "`ip addr add 192.168.0.9/24 dev eth0 label eth0:1`"
    )
    (kernel,) = findings(v)
    assert "clients' packets for it do not reach this router" in kernel


def test_real_server_routed_elsewhere_in_nat_mode() -> None:
    routes = {"10.0.0.3": "eth0"}
    (finding,) = findings(WWW, routes=routes)
    assert finding.startswith(
        "real server www/web2 (10.0.0.3) is reached through eth0, not through eth1 where the "
        "NAT router address 10.0.0.254 lives"
    )
    assert "`ip route add 10.0.0.3/32 dev eth1`" in finding
    assert findings(WWW, routes=routes, dataplane="userspace") == []  # a proxy gets its replies
    assert findings(WWW, routes=routes, globals_="network = direct") == []


def test_unreachable_real_server() -> None:
    (finding,) = findings(WWW, routes={"10.0.0.2": ""}, dataplane="userspace")[-1:]
    assert finding.startswith("real server www/web1 (10.0.0.2) cannot be reached from this machine")
    assert "`ip route get 10.0.0.2`" in finding


def test_forwarding_method_and_fwmark_on_userspace() -> None:
    marked = virtual("shop", "192.168.0.1", server("s", "10.0.0.2"), extra="fwmark = 5")
    found = findings(marked, dataplane="userspace", globals_="network = direct")
    assert found[0].startswith(
        "network = direct: the userspace data plane proxies every connection"
    )
    assert found[1].startswith("virtual server shop: fwmark 5 without `fwmark_ports`")
    assert findings(marked, dataplane="ipvs") == []  # the kernel sees the marks


def test_this_machine() -> None:
    facts = preflight.machine_facts()
    assert facts.is_local("127.0.0.1") is True
    assert facts.is_local("192.0.2.77") is False
    assert facts.ip_forward() in (True, False)
    assert facts.route_device("127.0.0.1") == "lo"


def test_add_address_command() -> None:
    assert (
        preflight.add_address_command("10.1.1.1", None, None) == "ip addr add 10.1.1.1/32 dev eth0"
    )
    assert (
        preflight.add_address_command("10.1.1.1", "255.255.0.0", "bond0")
        == "ip addr add 10.1.1.1/16 dev bond0"
    )


def test_client_monitor_is_not_run() -> None:
    v = virtual(
        "www", "192.168.0.1", server("web1", "10.0.0.2"), extra="client_monitor = /usr/sbin/nanny"
    )
    (finding,) = findings(v)
    assert finding.startswith("virtual server www: client_monitor = /usr/sbin/nanny is not run;")
