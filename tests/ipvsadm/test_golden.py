"""Byte-for-byte layouts: the examples of the reference (§7.3–7.7) and the other -L forms."""

from __future__ import annotations

from piranha.table import model
from piranha.table.ipvsadm import ListOptions, render_list, render_proc_ip_vs, render_save

from .helpers import ConnectionsDouble, new_table, ok, reference_table, sh

LIST_N = (
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    "TCP  192.168.1.100:80 wlc persistent 60 mask 255.255.255.0\n"
    "  -> 10.0.0.2:80                  Masq    1      3          12        \n"
    "  -> 10.0.0.3:80                  Masq    2      0          0         \n"
    "UDP  192.168.1.100:53 rr\n"
    "  -> 10.0.0.2:53                  Masq    1      0          4         \n"
    "FWM  100 wlc persistent 300\n"
    "  -> 10.0.0.4:0                   Route   1      0          0         \n"
)

LIST_STATS = (
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
    "  -> RemoteAddress:Port\n"
    "TCP  192.168.1.100:80                 1543    23011    21007  2291873 30112765\n"
    "  -> 10.0.0.2:80                      1543    23011    21007  2291873 30112765\n"
    "  -> 10.0.0.3:80                         0        0        0        0        0\n"
    "UDP  192.168.1.100:53                  812      812      812    49720   101234\n"
    "  -> 10.0.0.2:53                       812      812      812    49720   101234\n"
    "FWM  100                                 0        0        0        0        0\n"
    "  -> 10.0.0.4:0                          0        0        0        0        0\n"
)

LIST_RATE = (
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n"
    "  -> RemoteAddress:Port\n"
    "TCP  192.168.1.100:80                    0        5        4      402     3120\n"
    "  -> 10.0.0.2:80                         0        5        4      402     3120\n"
    "  -> 10.0.0.3:80                         0        0        0        0        0\n"
    "UDP  192.168.1.100:53                    0        1        1       61      125\n"
    "  -> 10.0.0.2:53                         0        1        1       61      125\n"
    "FWM  100                                 0        0        0        0        0\n"
    "  -> 10.0.0.4:0                          0        0        0        0        0\n"
)

LIST_CONN = (
    "IPVS connection entries\n"
    "pro expire state       source             virtual            destination\n"
    "TCP 14:59  ESTABLISHED 203.0.113.7:51514  192.168.1.100:80   10.0.0.2:80\n"
    "TCP 01:35  FIN_WAIT    203.0.113.9:40022  192.168.1.100:80   10.0.0.2:80\n"
    "UDP 04:47  UDP         198.51.100.4:33001 192.168.1.100:53   10.0.0.2:53\n"
    "TCP 00:45  NONE        203.0.113.0:0      192.168.1.100:80   10.0.0.2:80\n"
)

SAVE_N = (
    "-A -t 192.168.1.100:80 -s wlc -p 60 -M 255.255.255.0\n"
    "-a -t 192.168.1.100:80 -r 10.0.0.2:80 -m -w 1\n"
    "-a -t 192.168.1.100:80 -r 10.0.0.3:80 -m -w 2\n"
    "-A -u 192.168.1.100:53 -s rr\n"
    "-a -u 192.168.1.100:53 -r 10.0.0.2:53 -m -w 1\n"
    "-A -f 100 -s wlc -p 300\n"
    "-a -f 100 -r 10.0.0.4:0 -g -w 1\n"
)

PROC_IP_VS = (
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
    "TCP  C0A80164:0050 wlc persistent 60 FFFFFF00\n"
    "  -> 0A000002:0050      Masq    1      3          12        \n"
)

HTTP = model.ServiceKey.tcp("192.168.1.100", 80)
DNS = model.ServiceKey.udp("192.168.1.100", 53)


def _with_counters(table: model.VirtualTable) -> model.VirtualTable:
    http, dns = table.services[HTTP], table.services[DNS]
    rs2 = http.find("10.0.0.2", 80)
    assert rs2 is not None
    rs2.activeconns, rs2.inactconns = 3, 12
    dns_rs = dns.find("10.0.0.2", 53)
    assert dns_rs is not None
    dns_rs.inactconns = 4
    for stats in (http.stats, rs2.stats):
        stats.conns, stats.inpkts, stats.outpkts = 1543, 23011, 21007
        stats.inbytes, stats.outbytes = 2291873, 30112765
    for stats in (dns.stats, dns_rs.stats):
        stats.conns = stats.inpkts = stats.outpkts = 812
        stats.inbytes, stats.outbytes = 49720, 101234
    for rates in (http.rates, rs2.rates):
        rates.inpps, rates.outpps, rates.inbps, rates.outbps = 5, 4, 402, 3120
    for rates in (dns.rates, dns_rs.rates):
        rates.inpps, rates.outpps, rates.inbps, rates.outbps = 1, 1, 61, 125
    return table


def test_list_numeric_layout(reference_table: model.VirtualTable) -> None:
    table = _with_counters(reference_table)
    for line in ("-L -n", "-Ln", "-l -n", "-ln", "--list --numeric", "-L --numeric"):
        result = sh(table, line)
        assert (result.exit_code, result.stdout, result.stderr) == (0, LIST_N, ""), line
        assert result.changed is False


def test_no_arguments_lists_without_numeric_flag(reference_table: model.VirtualTable) -> None:
    table = _with_counters(reference_table)
    # without a resolver no name is known, so the non-numeric listing shows numbers
    assert sh(table, "").stdout == LIST_N
    assert sh(table, "-L").stdout == LIST_N


def test_list_stats_layout(reference_table: model.VirtualTable) -> None:
    table = _with_counters(reference_table)
    assert sh(table, "-L -n --stats").stdout == LIST_STATS
    assert sh(table, "-Ln --stats --exact").stdout == LIST_STATS  # all below 10^8


def test_list_rate_layout(reference_table: model.VirtualTable) -> None:
    table = _with_counters(reference_table)
    assert sh(table, "-L -n --rate").stdout == LIST_RATE


def test_stats_take_precedence_over_rate_thresholds_persistent_conn(
    reference_table: model.VirtualTable,
) -> None:
    table = _with_counters(reference_table)
    line = "-Ln --persistent-conn --thresholds --rate --stats"
    assert sh(table, line).stdout == LIST_STATS
    assert sh(table, "-Ln --persistent-conn --thresholds --rate").stdout == LIST_RATE


def test_save_layout(reference_table: model.VirtualTable) -> None:
    for line in ("-S -n", "-Sn", "--save --numeric", "-S"):
        result = sh(reference_table, line)
        assert (result.exit_code, result.stdout, result.stderr) == (0, SAVE_N, ""), line
    assert render_save(reference_table) == SAVE_N


def test_connection_listing(reference_table: model.VirtualTable) -> None:
    now = 5000.25
    vip = "192.168.1.100"
    conns = ConnectionsDouble(
        [
            model.Connection(
                6, "203.0.113.7", 51514, vip, 80, "10.0.0.2", 80, "ESTABLISHED", now + 899.9
            ),
            model.Connection(
                6, "203.0.113.9", 40022, vip, 80, "10.0.0.2", 80, "FIN_WAIT", now + 95
            ),
            model.Connection(
                17, "198.51.100.4", 33001, vip, 53, "10.0.0.2", 53, "UDP", now + 287.5
            ),
            model.Connection(
                6, "203.0.113.0", 0, vip, 80, "10.0.0.2", 80, "NONE", now + 45, template=True
            ),
        ]
    )
    reference_table.connections = conns  # type: ignore[assignment]
    for line in ("-L -n -c", "-Lnc", "-Lcn", "-lnc", "-L -c -n", "--list --connection -n"):
        result = sh(reference_table, line, now=now)
        assert (result.exit_code, result.stdout, result.stderr) == (0, LIST_CONN, ""), line


def test_connection_listing_of_fwmark_template_and_long_expiry() -> None:
    table = new_table()
    table.connections = ConnectionsDouble(  # type: ignore[assignment]
        [
            model.Connection(
                0, "203.0.113.0", 0, "0.0.0.100", 0, "10.0.0.4", 0, "NONE", 2678400.0, template=True
            ),
            model.Connection(6, "203.0.113.7", 1, "1.2.3.4", 80, "10.0.0.2", 80, "CLOSE", -3.0),
        ]
    )
    out = render_list(table, ListOptions(numeric=True, connections=True), now=0.0)
    assert out.splitlines()[2:] == [
        "IP  44640:00 NONE        203.0.113.0:0      0.0.0.100:0        10.0.0.4:0",
        "TCP 00:00  CLOSE       203.0.113.7:1      1.2.3.4:80         10.0.0.2:80",
    ]


def test_connection_listing_with_persistent_conn_columns() -> None:
    table = new_table()
    table.connections = ConnectionsDouble(  # type: ignore[assignment]
        [
            model.Connection(
                17,
                "198.51.100.4",
                5060,
                "1.2.3.4",
                5060,
                "10.0.0.2",
                5060,
                "UDP",
                60.0,
                pe_name="sip",
                pe_data="abc@host",
            ),
            model.Connection(6, "203.0.113.7", 1, "1.2.3.4", 80, "10.0.0.2", 80, "SYN_RECV", 30.0),
        ]
    )
    out = sh(table, "-L -n -c --persistent-conn").stdout
    assert out == (
        "IPVS connection entries\n"
        "pro expire state       source             virtual            destination        "
        "pe name          pe_data\n"
        "UDP 01:00  UDP         198.51.100.4:5060  1.2.3.4:5060       10.0.0.2:5060    "
        "sip                abc@host\n"
        "TCP 00:30  SYN_RECV    203.0.113.7:1      1.2.3.4:80         10.0.0.2:80\n"
    )


def test_empty_connection_table_and_none() -> None:
    table = new_table()
    table.connections = None
    assert sh(table, "-Lnc").stdout == (
        "IPVS connection entries\n"
        "pro expire state       source             virtual            destination\n"
    )


def test_list_one_service_has_titles_but_no_version_line(
    reference_table: model.VirtualTable,
) -> None:
    table = _with_counters(reference_table)
    result = sh(table, "-L -n -t 192.168.1.100:80")
    assert result.stdout == "".join(LIST_N.splitlines(keepends=True)[1:6])
    assert sh(table, "-Ln -f 100").stdout == (
        "Prot LocalAddress:Port Scheduler Flags\n"
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        "FWM  100 wlc persistent 300\n"
        "  -> 10.0.0.4:0                   Route   1      0          0         \n"
    )
    stats = sh(table, "-L -n --stats -u 192.168.1.100:53").stdout
    assert stats == "".join(
        LIST_STATS.splitlines(keepends=True)[1:3] + LIST_STATS.splitlines(keepends=True)[6:8]
    )


def test_thresholds_layout(table: model.VirtualTable) -> None:
    ok(table, "-A -t 10.1.1.1:80 -s lc", "-a -t 10.1.1.1:80 -r 10.0.0.2 -x 200 -y 100 -w 3")
    assert sh(table, "-L -n --thresholds").stdout == (
        "IP Virtual Server version 1.2.1 (size=4096)\n"
        "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n"
        "  -> RemoteAddress:Port\n"
        "TCP  10.1.1.1:80 lc\n"
        "  -> 10.0.0.2:80                  200        100        0          0         \n"
    )


def test_persistent_conn_layout(table: model.VirtualTable) -> None:
    ok(table, "-A -t 10.1.1.1:443 -p", "-a -t 10.1.1.1:443 -r 10.0.0.2 -w 7")
    dest = table.services[model.ServiceKey.tcp("10.1.1.1", 443)].destinations[0]
    dest.persistconns, dest.activeconns, dest.inactconns = 12, 5, 9
    assert sh(table, "-L -n --persistent-conn").stdout == (
        "IP Virtual Server version 1.2.1 (size=4096)\n"
        "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn \n"
        "  -> RemoteAddress:Port\n"
        "TCP  10.1.1.1:443 wlc persistent 360\n"
        "  -> 10.0.0.2:443                 7         12          5          9         \n"
    )


def test_tun_info_layout(table: model.VirtualTable) -> None:
    ok(
        table,
        "-A -t 10.1.1.1:80",
        "-a -t 10.1.1.1:80 -r 10.0.0.2 -i",
        "-a -t 10.1.1.1:80 -r 10.0.0.3",
    )
    assert sh(table, "-Ln --tun-info").stdout == (
        "IP Virtual Server version 1.2.1 (size=4096)\n"
        "Prot LocalAddress:Port Scheduler Flags\n"
        "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
        "TCP  10.1.1.1:80 wlc\n"
        "  -> 10.0.0.2:80                  Tunnel  ipip          1      0          0         \n"
        "  -> 10.0.0.3:80                  Route   n/a           1      0          0         \n"
    )


def test_service_flags_ops_and_pe(table: model.VirtualTable) -> None:
    ok(
        table,
        "-A -u 10.1.1.1:53 -s sh -b sh-port,sh-fallback -o",
        "-A -u 10.1.1.1:5060 -s rr -p 30 -M 255.255.0.0 --pe sip -b flag-2",
        "-A -t 10.1.1.1:80 -s mh -b mh-port",
    )
    assert sh(table, "-Ln").stdout.splitlines()[3:] == [
        "TCP  10.1.1.1:80 mh (mh-port)",
        "UDP  10.1.1.1:53 sh (sh-fallback,sh-port) ops",
        "UDP  10.1.1.1:5060 rr (flag-2) persistent 30 mask 255.255.0.0 pe sip",
    ]
    assert sh(table, "-Sn").stdout == (
        "-A -t 10.1.1.1:80 -s mh -b mh-port\n"
        "-A -u 10.1.1.1:53 -s sh -o -b sh-fallback,sh-port\n"
        "-A -u 10.1.1.1:5060 -s rr -p 30 -M 255.255.0.0 --pe sip -b flag-2\n"
    )


def test_timeout_and_daemon_listings(table: model.VirtualTable) -> None:
    assert sh(table, "-L --timeout").stdout == "Timeout (tcp tcpfin udp): 900 120 300\n"
    ok(table, "--set 0 60 0")
    assert sh(table, "-L --timeout").stdout == "Timeout (tcp tcpfin udp): 900 60 300\n"
    assert sh(table, "-L --daemon").stdout == ""
    ok(table, "--start-daemon backup --mcast-interface eth1 --syncid 7", "--start-daemon master")
    assert sh(table, "-L --daemon").stdout == (
        "master sync daemon (mcast=eth0, syncid=0)\nbackup sync daemon (mcast=eth1, syncid=7)\n"
    )


def test_sorting_and_nosort(table: model.VirtualTable) -> None:
    ok(
        table,
        "-A -f 7",
        "-A -u 10.0.0.1:53",
        "-A -t 192.168.0.1:80",
        "-A -t 10.0.0.1:443",
        "-A -t 10.0.0.1:80",
        "-A -f 3",
        "-a -t 10.0.0.1:80 -r 10.9.9.9:80 -m",
        "-a -t 10.0.0.1:80 -r 10.0.0.5:8080 -m",
        "-a -t 10.0.0.1:80 -r 10.0.0.5:81 -m",
        "-a -t 10.0.0.1:80 -r 192.168.7.1 -m",
    )
    services = [
        line
        for line in sh(table, "-Ln").stdout.splitlines()
        if not line.startswith(("  ", "Prot", "IP "))
    ]
    assert services == [
        "TCP  10.0.0.1:80 wlc",
        "TCP  10.0.0.1:443 wlc",
        "TCP  192.168.0.1:80 wlc",
        "UDP  10.0.0.1:53 wlc",
        "FWM  3 wlc",
        "FWM  7 wlc",
    ]
    dests = [line.split()[1] for line in sh(table, "-Ln -t 10.0.0.1:80").stdout.splitlines()[3:]]
    assert dests == ["10.0.0.5:81", "10.0.0.5:8080", "10.9.9.9:80", "192.168.7.1:80"]
    nosort = sh(table, "-Ln --nosort").stdout.splitlines()
    assert [line for line in nosort if line.startswith(("TCP", "UDP", "FWM"))] == [
        "FWM  7 wlc",
        "UDP  10.0.0.1:53 wlc",
        "TCP  192.168.0.1:80 wlc",
        "TCP  10.0.0.1:443 wlc",
        "TCP  10.0.0.1:80 wlc",
        "FWM  3 wlc",
    ]
    # the kernel puts a new destination at the head of the list
    assert [line.split()[1] for line in nosort[3:] if line.startswith("  ->")] == [
        "192.168.7.1:80",
        "10.0.0.5:81",
        "10.0.0.5:8080",
        "10.9.9.9:80",
    ]
    assert sh(table, "-Ln --sort").stdout == sh(table, "-Ln").stdout


def test_proc_net_ip_vs_layout(table: model.VirtualTable) -> None:
    ok(
        table,
        "-A -t 192.168.1.100:80 -s wlc -p 60 -M 255.255.255.0",
        "-a -t 192.168.1.100:80 -r 10.0.0.2:80 -m -w 1",
    )
    dest = table.services[HTTP].destinations[0]
    dest.activeconns, dest.inactconns = 3, 12
    assert render_proc_ip_vs(table) == PROC_IP_VS
    ok(table, "-A -f 100 -s rr", "-A -u 10.0.0.1:53 -s rr")
    assert render_proc_ip_vs(table).splitlines(keepends=True)[5:] == [
        "UDP  0A000001:0035 rr \n",
        "FWM  00000064 rr \n",
    ]


def test_render_list_as_a_plain_function(reference_table: model.VirtualTable) -> None:
    table = _with_counters(reference_table)
    assert render_list(table, ListOptions(numeric=True)) == LIST_N
    assert render_list(table, ListOptions(numeric=True, stats=True)) == LIST_STATS
    assert render_list(table) == LIST_N  # no resolver: numbers


def test_reference_table_builder_is_independent() -> None:
    first, second = reference_table(new_table()), reference_table(new_table())
    assert render_save(first) == render_save(second) == SAVE_N
