"""Without -n: names through the resolver, cut to ipvsadm's column widths."""

from __future__ import annotations

from piranha.table import model
from piranha.table.ipvsadm import render_save, run

from .helpers import ConnectionsDouble, ok, sh

LONG = "a-rather-long-host-name-for-the-virtual-ip.example.com"


class FakeResolver:
    """A tiny /etc/hosts and /etc/services."""

    hosts = {
        "192.168.1.100": "www.example.com",
        "10.0.0.2": "real1.example.com",
        "10.0.0.3": "real-server-with-a-long-name.example.com",
        "10.0.0.4": LONG,
        "10.0.0.5": "client-" + "x" * 60 + ".example.com",
    }
    services = {(80, 6): "http", (53, 17): "domain", (53, 6): "domain", (443, 6): "https"}

    def host(self, address: str) -> str | None:
        return self.hosts.get(address)

    def service(self, port: int, proto: int) -> str | None:
        return self.services.get((port, proto))

    def address(self, name: str) -> str | None:
        return {v: k for k, v in self.hosts.items()}.get(name)

    def port(self, name: str, proto: int) -> int | None:
        return {(v, p): port for (port, p), v in self.services.items()}.get((name, proto))


NAMES = FakeResolver()


def test_listing_with_names_cut_to_the_columns(table: model.VirtualTable) -> None:
    ok(
        table,
        "-A -t 192.168.1.100:80",
        "-a -t 192.168.1.100:80 -r 10.0.0.2 -m",
        "-a -t 192.168.1.100:80 -r 10.0.0.3 -m",
        "-A -t 10.0.0.4:443",
        "-A -f 5",
        "-a -f 5 -r 10.0.0.2:80",
        "-a -f 5 -r 10.0.0.2:0",
    )
    out = run(table, ["-L"], resolver=NAMES).stdout.splitlines()
    assert out[3:] == [
        "TCP  a-rather-long-host-name-for- wlc",  # the name is cut at 33 columns
        "TCP  www.example.com:http wlc",
        "  -> real1.example.com:http       Masq    1      0          0         ",
        "  -> real-server-with-a-long-name Masq    1      0          0         ",  # cut at 28
        "FWM  5 wlc",
        "  -> real1.example.com:0          Route   1      0          0         ",
        "  -> real1.example.com:http       Route   1      0          0         ",
    ]
    # -n: numbers, whatever the resolver knows
    numeric = run(table, ["-Ln"], resolver=NAMES).stdout
    assert "www.example.com" not in numeric and "192.168.1.100:80" in numeric


def test_stats_listing_with_names(table: model.VirtualTable) -> None:
    ok(table, "-A -t 192.168.1.100:80", "-a -t 192.168.1.100:80 -r 10.0.0.2 -m")
    out = run(table, ["-L", "--stats"], resolver=NAMES).stdout.splitlines()
    assert out[3] == f"{'TCP  www.example.com:http':<33}" + "        0" * 5
    assert out[4] == f"  -> {'real1.example.com:http':<28}" + "        0" * 5


def test_names_as_input(table: model.VirtualTable) -> None:
    result = run(
        table, ["-A", "-t", "www.example.com:http", "-p", "-M", "real1.example.com"], resolver=NAMES
    )
    assert result.exit_code == 0, result
    svc = table.services[model.ServiceKey.tcp("192.168.1.100", 80)]
    assert svc.netmask == "10.0.0.2"
    result = run(
        table,
        ["-a", "-t", "192.168.1.100:80", "-r", "real1.example.com:https", "-m"],
        resolver=NAMES,
    )
    assert result.exit_code == 0, result
    assert svc.find("10.0.0.2", 443) is not None
    # the service name is looked up for the protocol: domain/udp exists, https/udp does not
    assert run(table, ["-A", "-u", "1.2.3.4:domain"], resolver=NAMES).exit_code == 0
    assert run(table, ["-A", "-u", "1.2.3.4:https"], resolver=NAMES).exit_code == 2


def test_connections_with_names_are_not_cut(table: model.VirtualTable) -> None:
    table.connections = ConnectionsDouble(  # type: ignore[assignment]
        [
            model.Connection(
                6, "10.0.0.5", 40000, "192.168.1.100", 80, "10.0.0.2", 80, "ESTABLISHED", 90.0
            ),
            model.Connection(0, "10.0.0.2", 0, "0.0.0.5", 80, "10.0.0.3", 80, "NONE", 90.0),
        ]
    )
    out = run(table, ["-Lc"], resolver=NAMES).stdout.splitlines()
    # addrport_to_anyname's 60-byte buffer keeps 59 characters
    client = "client-" + "x" * 52
    assert len(client) == 59
    assert out[2] == (
        f"TCP 01:30  ESTABLISHED {client} www.example.com:http real1.example.com:http"
    )
    # protocol IP (a fwmark template): no service names
    assert out[3] == (
        "IP  01:30  NONE        real1.example.com:0 0.0.0.5:80         "
        "real-server-with-a-long-name.example.com:80"
    )


def test_save_with_names_round_trips_through_the_same_resolver(table: model.VirtualTable) -> None:
    ok(
        table,
        "-A -t 192.168.1.100:80 -s rr -p 30",
        "-a -t 192.168.1.100:80 -r 10.0.0.2 -m -w 4",
        "-A -u 192.168.1.100:53",
        "-a -u 192.168.1.100:53 -r 10.0.0.3 -m",
    )
    saved = render_save(table, numeric=False, resolver=NAMES)
    assert saved == (
        "-A -t www.example.com:http -s rr -p 30\n"
        "-a -t www.example.com:http -r real1.example.com:http -m -w 4\n"
        "-A -u www.example.com:domain -s wlc\n"
        "-a -u www.example.com:domain -r real-server-with-a-long-name.example.com:domain -m -w 1\n"
    )
    assert sh(table, "-S").stdout == render_save(table)  # no resolver: numbers
    copy = model.VirtualTable()
    assert run(copy, ["-R"], stdin=saved, resolver=NAMES).exit_code == 0
    assert render_save(copy) == render_save(table)
