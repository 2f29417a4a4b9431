"""Reading the conntrack table, /proc and `conntrack -L` formats."""

from __future__ import annotations

from piranha.dataplane.kernel.conntrack import parse_line, parse_lines
from piranha.dataplane.nftables.readback import CT_TO_IPVS, Snapshot, from_conntrack
from piranha.table.model import ServiceKey, VirtualTable

PROC_TCP = (
    "ipv4     2 tcp      6 119 TIME_WAIT src=10.98.0.2 dst=10.98.0.100 sport=38638 dport=80 "
    "src=10.97.0.11 dst=10.98.0.2 sport=8080 dport=38638 [ASSURED] mark=2147483649 zone=0 use=2"
)
PROC_UDP = (
    "ipv4     2 udp      17 29 src=10.98.0.2 dst=10.98.0.100 sport=5000 dport=53 [UNREPLIED] "
    "src=10.97.0.12 dst=10.98.0.2 sport=53 dport=5000 mark=2147483650 zone=0 use=2"
)
CLI_TCP = (
    "tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 "
    "sport=2 dport=1 [ASSURED] mark=0 use=1"
)


def test_proc_lines():
    e = parse_line(PROC_TCP)
    assert (e.protocol, e.state, e.timeout, e.mark, e.assured) == ("tcp", "TIME_WAIT", 119, 0x80000001, True)
    assert (e.src, e.sport, e.dst, e.dport) == ("10.98.0.2", 38638, "10.98.0.100", 80)
    assert (e.reply_src, e.reply_sport) == ("10.97.0.11", 8080)
    u = parse_line(PROC_UDP)
    assert (u.protocol, u.state, u.timeout, u.reply_src) == ("udp", "", 29, "10.97.0.12")


def test_conntrack_tool_lines_and_the_mark_filter():
    e = parse_line(CLI_TCP)
    assert (e.state, e.timeout, e.mark) == ("ESTABLISHED", 431999, 0)
    assert [x.mark for x in parse_lines([PROC_TCP, CLI_TCP, PROC_UDP, "garbage"])] == [0x80000001, 0x80000002]
    assert parse_line("") is None and parse_line("ipv4 2 tcp 6 x") is None


def test_states_map_to_ipvs_names_and_counts():
    table = VirtualTable()
    key = ServiceKey.tcp("10.98.0.100", 80)
    svc = table.add_service(key, "rr")
    dest = table.add_dest(key, "10.97.0.11", 8080)
    entries = parse_lines([PROC_TCP, PROC_TCP.replace("TIME_WAIT", "ESTABLISHED").replace("38638", "40000")])
    snap = Snapshot([], {}, set())
    from_conntrack(entries, lambda m: (svc, dest) if m == 0x80000001 else None, 100.0, snap)
    assert [c.state for c in snap.connections] == ["TIME_WAIT", "ESTABLISHED"]
    assert snap.connections[0].expires == 219.0 and snap.connections[0].daddr == "10.97.0.11"
    assert snap.counts[0x80000001] == [1, 1, 0]
    assert CT_TO_IPVS["SYN_SENT"] == "SYN_RECV"
