"""The pure parts: the TCP state tables, the listener plan, socket errors, settings."""

from __future__ import annotations

import errno
import socket

import pytest

from piranha.dataplane.base import BackendOptions
from piranha.dataplane.userspace import ProxySettings, SettingsError, tcpstates
from piranha.dataplane.userspace.endpoints import Endpoint, explain, open_socket, plan
from piranha.table.model import IPPROTO_TCP, IPPROTO_UDP, MarkMatch, ServiceKey, VirtualTable

from .helpers import free_port, loopback

# -- tcpstates ---------------------------------------------------------------


def test_state_tables_are_the_kernels():
    # spot checks against tcp_states[] in ip_vs_proto_tcp.c
    assert tcpstates.INPUT["fin"]["ESTABLISHED"] == "CLOSE_WAIT"
    assert tcpstates.OUTPUT["fin"]["ESTABLISHED"] == "FIN_WAIT"
    assert tcpstates.INPUT["fin"]["FIN_WAIT"] == "TIME_WAIT"
    assert tcpstates.OUTPUT["fin"]["CLOSE_WAIT"] == "TIME_WAIT"
    assert tcpstates.INPUT["rst"]["SYN_RECV"] == "SYN_RECV"
    assert tcpstates.OUTPUT["rst"]["SYN_RECV"] == "CLOSE"
    assert tcpstates.INPUT["ack"]["LAST_ACK"] == "CLOSE"
    assert tcpstates.OUTPUT["ack"]["LISTEN"] == "ESTABLISHED"


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ([tcpstates.CONNECTED], "ESTABLISHED"),
        ([tcpstates.CONNECTED, tcpstates.CLIENT_FIN], "CLOSE_WAIT"),
        ([tcpstates.CONNECTED, tcpstates.SERVER_FIN], "FIN_WAIT"),
        ([tcpstates.CONNECTED, tcpstates.CLIENT_FIN, tcpstates.SERVER_FIN], "TIME_WAIT"),
        ([tcpstates.CONNECTED, tcpstates.SERVER_FIN, tcpstates.CLIENT_FIN], "TIME_WAIT"),
        ([tcpstates.CONNECTED, tcpstates.CLIENT_RST], "CLOSE"),
        ([tcpstates.CONNECTED, tcpstates.SERVER_RST], "CLOSE"),
        ([tcpstates.SERVER_RST], "CLOSE"),  # refused connect
        ([tcpstates.CLIENT_RST], "SYN_RECV"),  # client gave up while we connected
    ],
)
def test_proxy_event_sequences(events, final):
    state = "SYN_RECV"  # what schedule() starts a TCP entry in
    for event in events:
        state = event[state]
    assert state == final


# -- endpoints ---------------------------------------------------------------


def _table(*keys_and_matches):
    table = VirtualTable()
    for key, match in keys_and_matches:
        svc = table.add_service(key, "rr")
        svc.match = tuple(match)
    return table


def test_plan_expands_ranges_and_refuses_what_cannot_be_emulated():
    web = ServiceKey.tcp("10.0.0.1", 80)
    ftp = ServiceKey.mark(21)
    dns = ServiceKey.udp("10.0.0.1", 53)
    table = _table(
        (web, ()),
        (ftp, [MarkMatch(IPPROTO_TCP, "10.0.0.1", 21, 21),
               MarkMatch(IPPROTO_TCP, "10.0.0.1", 10000, 10009)]),
        (dns, ()),
        (ServiceKey.tcp("10.0.0.1", 0), ()),
        (ServiceKey.mark(7), ()),
    )
    result = plan(table, budget=100)
    assert len(result.wanted) == 1 + 11 + 1
    assert result.wanted[Endpoint(IPPROTO_TCP, "10.0.0.1", 10005)] == ftp
    assert result.wanted[Endpoint(IPPROTO_UDP, "10.0.0.1", 53)] == dns
    assert set(result.failed) == {ServiceKey.tcp("10.0.0.1", 0), ServiceKey.mark(7)}


def test_plan_budget_counts_every_port():
    big = ServiceKey.mark(1)
    small = ServiceKey.tcp("10.0.0.2", 80)
    table = _table((big, [MarkMatch(IPPROTO_TCP, "10.0.0.1", 10000, 20000)]), (small, ()))
    result = plan(table, budget=5000)
    assert big in result.failed and "10001 listening sockets" in result.failed[big]
    assert list(result.wanted.values()) == [small]


def test_open_socket_explains_errors():
    with pytest.raises(OSError) as info:
        open_socket(Endpoint(IPPROTO_TCP, "192.0.2.77", 80))
    assert "address not local" in str(info.value) and "192.0.2.77/32" in str(info.value)
    address = loopback()
    port = free_port(address)
    with socket.socket() as squat:
        squat.bind((address, port))
        squat.listen()
        with pytest.raises(OSError) as info:
            open_socket(Endpoint(IPPROTO_TCP, address, port))
    assert f"cannot listen on {address}:{port}/tcp: port in use" in str(info.value)
    denied = explain(Endpoint(IPPROTO_UDP, "10.0.0.1", 53), OSError(errno.EACCES, "Permission denied"))
    assert denied.startswith("cannot receive on 10.0.0.1:53/udp: permission denied")
    assert "CAP_NET_BIND_SERVICE" in denied


@pytest.mark.parametrize("protocol", [IPPROTO_TCP, IPPROTO_UDP])
def test_open_socket_freebind_binds_an_address_not_held_yet(protocol):
    """A standby's listeners: bound to a VIP the other router holds (nothing is sent)."""
    ep = Endpoint(protocol, "192.0.2.78", free_port("127.0.0.1"))
    with pytest.raises(OSError, match="address not local"):
        open_socket(ep)
    sock = open_socket(ep, freebind=True)
    with sock:
        assert sock.getsockname() == ("192.0.2.78", ep.port)


# -- settings ----------------------------------------------------------------


def test_settings_from_backend_options():
    settings = ProxySettings.from_options(
        BackendOptions(use_uvloop=True, extra={
            "userspace.connect_timeout": "2.5", "userspace.max_udp_flows": "10",
            "userspace.in_process": "yes", "nftables.whatever": "ignored",
        })
    )
    assert settings.connect_timeout == 2.5
    assert settings.max_udp_flows == 10
    assert settings.in_process is True
    assert settings.use_uvloop is True
    assert settings.freebind is False
    assert ProxySettings.from_options(BackendOptions(freebind=True)).freebind is True


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"userspace.connect_timeout": "soon"}, "userspace.connect_timeout = 'soon' is not a valid float"),
        ({"userspace.connect_timeout": "0"}, "must be > 0"),
        ({"userspace.low_water": "100", "userspace.high_water": "10"}, "must be > 0 and <="),
        ({"userspace.workers": "2"}, "unknown userspace data plane setting 'userspace.workers'"),
        ({"userspace.freebind": "1"}, "unknown userspace data plane setting 'userspace.freebind'"),
        ({"userspace.in_process": "maybe"}, "is not a valid bool"),
    ],
)
def test_settings_errors_say_what_and_why(extra, message):
    with pytest.raises(SettingsError, match=message):
        ProxySettings.from_options(BackendOptions(extra=extra))
