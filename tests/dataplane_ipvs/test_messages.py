"""IPVS generic-netlink messages against the kernel's layout (include/uapi/linux/ip_vs.h).

This kernel has no IPVS, so the backend cannot be exercised against it
here; what it sends is checked byte for byte instead, against messages
assembled by hand from ip_vs.h's attribute numbers and ipvsadm 1.31's
libipvs attribute order.
"""

from __future__ import annotations

import struct

from piranha.dataplane.ipvs import messages as m
from piranha.dataplane.ipvs.backend import plan_commands, read_connections
from piranha.dataplane.ipvs.genl import genl_message
from piranha.table.model import Forward, ServiceKey, VirtualTable

H = bytes.fromhex


def service(table=None, **opts):
    table = table or VirtualTable()
    return table.add_service(ServiceKey.tcp("192.168.0.100", 80), "wlc", **opts)


def test_new_service_message_byte_for_byte():
    svc = service(persistent=300, netmask="255.255.255.0")
    payload = m.service_attr(svc)
    expected = (
        H("5400 0180")                                         # IPVS_CMD_ATTR_SERVICE, nested, 84 bytes
        + H("0600 0100 0200 0000")                             # IPVS_SVC_ATTR_AF = AF_INET (u16)
        + H("0600 0200 0600 0000")                             # IPVS_SVC_ATTR_PROTOCOL = IPPROTO_TCP (u16)
        + H("1400 0300 c0a80064") + bytes(12)                  # IPVS_SVC_ATTR_ADDR: union nf_inet_addr
        + H("0600 0400 0050 0000")                             # IPVS_SVC_ATTR_PORT: be16 80
        + H("0800 0600") + b"wlc\0"                            # IPVS_SVC_ATTR_SCHED_NAME
        + H("0c00 0700 01000000 ffffffff")                     # IPVS_SVC_ATTR_FLAGS {PERSISTENT, mask ~0}
        + H("0800 0800 2c010000")                              # IPVS_SVC_ATTR_TIMEOUT = 300
        + H("0800 0900 ffffff00")                              # IPVS_SVC_ATTR_NETMASK: be32
    )
    assert payload == expected
    msg = genl_message(0x1C, m.CMD_NEW_SERVICE, m.IPVS_GENL_VERSION, payload, 7, 0x5)
    assert msg[:20] == struct.pack("=IHHII", 20 + len(expected), 0x1C, 5, 7, 0) + H("0101 0000")
    assert msg[20:] == expected


def test_fwmark_service_and_scheduler_flags():
    table = VirtualTable()
    svc = table.add_service(ServiceKey.mark(80), "sh", sched_flags=frozenset({"sh-fallback", "sh-port"}))
    payload = m.service_attr(svc)
    assert payload[4:12] == H("0600 0100 0200 0000")            # AF
    assert payload[12:20] == H("0800 0500 50000000")            # IPVS_SVC_ATTR_FWMARK (u32)
    flags = payload.index(H("0c00 0700"))
    assert payload[flags + 4 : flags + 12] == H("18000000 ffffffff")  # SCHED1|SCHED2
    assert payload.endswith(H("0800 0900 ffffffff"))            # not persistent: netmask ~0


def test_new_dest_message_byte_for_byte():
    table = VirtualTable()
    svc = service(table)
    dest = table.add_dest(svc.key, "10.0.0.2", 8080, weight=3, forward=Forward.MASQ, u_threshold=100, l_threshold=50)
    assert m.dest_attr(dest) == (
        H("6000 0280")                                          # IPVS_CMD_ATTR_DEST, nested, 96 bytes
        + H("0600 0b00 0200 0000")                              # IPVS_DEST_ATTR_ADDR_FAMILY
        + H("1400 0100 0a000002") + bytes(12)                   # IPVS_DEST_ATTR_ADDR
        + H("0600 0200 1f90 0000")                              # IPVS_DEST_ATTR_PORT: be16 8080
        + H("0800 0300 00000000")                               # IPVS_DEST_ATTR_FWD_METHOD = MASQ
        + H("0800 0400 03000000")                               # IPVS_DEST_ATTR_WEIGHT
        + H("0500 0d00 00000000")                               # IPVS_DEST_ATTR_TUN_TYPE (u8) = ipip
        + H("0600 0e00 0000 0000")                              # IPVS_DEST_ATTR_TUN_PORT
        + H("0600 0f00 0000 0000")                              # IPVS_DEST_ATTR_TUN_FLAGS
        + H("0800 0500 64000000")                               # IPVS_DEST_ATTR_U_THRESH
        + H("0800 0600 32000000")                               # IPVS_DEST_ATTR_L_THRESH
    )
    for fwd, code in ((Forward.ROUTE, 3), (Forward.TUNNEL, 2), (Forward.LOCAL, 1)):
        dest.forward = fwd
        assert H("0800 0300") + struct.pack("=I", code) in m.dest_attr(dest)


def test_timeouts_and_sync_daemon():
    assert m.timeouts_attrs(900, 120, 300) == H("0800 0400 84030000 0800 0500 78000000 0800 0600 2c010000")
    assert m.daemon_attr(m.STATE_MASTER, "eth1", 5) == (
        H("2000 0380") + H("0800 0100 01000000") + H("0900 0200") + b"eth1\0" + bytes(3) + H("0800 0300 05000000")
    )


def test_decoding_a_dest_dump_with_64_bit_stats():
    stats = b"".join(m.attr(i, struct.pack("=Q", v)) for i, v in enumerate([7, 70, 60, 7000, 6000, 1, 2, 3, 4, 5], 1))
    dest = m.nested(
        m.CMD_ATTR_DEST,
        m.attr(m.DEST_ATTR_ADDR, m.inet_addr("10.0.0.2")),
        m.be16(m.DEST_ATTR_PORT, 80),
        m.u32(m.DEST_ATTR_FWD_METHOD, 3),
        m.u32(m.DEST_ATTR_WEIGHT, 2),
        m.u32(m.DEST_ATTR_ACTIVE_CONNS, 4),
        m.u32(m.DEST_ATTR_INACT_CONNS, 9),
        m.u32(m.DEST_ATTR_PERSIST_CONNS, 1),
        m.nested(m.DEST_ATTR_STATS64, stats),
    )
    kd = m.decode_dest(m.parse(dest))
    assert (kd.address, kd.port, kd.forward, kd.weight) == ("10.0.0.2", 80, Forward.ROUTE, 2)
    assert (kd.activeconns, kd.inactconns, kd.persistconns) == (4, 9, 1)
    assert (kd.stats.conns, kd.stats.inbytes, kd.stats.outbps) == (7, 7000, 5)
    svc = m.decode_service(m.parse(m.service_attr(service(persistent=60))))
    assert (svc.key, svc.scheduler, svc.flags, svc.timeout) == (ServiceKey.tcp("192.168.0.100", 80), "wlc", 1, 60)


def test_converge_sends_only_the_differences_adds_first_deletes_last():
    table = VirtualTable()
    svc = service(table)
    table.add_dest(svc.key, "10.0.0.1", 80, weight=2, forward=Forward.MASQ)
    table.add_dest(svc.key, "10.0.0.2", 80, forward=Forward.MASQ)
    kernel_svc = m.KernelService(svc.key, "rr", 0, 0, "255.255.255.255")
    kernel = {
        svc.key: (
            kernel_svc,
            {
                ("10.0.0.1", 80): m.KernelDest("10.0.0.1", 80, Forward.MASQ, 1, 0, 0),
                ("10.0.0.3", 80): m.KernelDest("10.0.0.3", 80, Forward.MASQ, 1, 0, 0),
            },
        ),
        ServiceKey.udp("192.168.0.100", 53): (m.KernelService(ServiceKey.udp("192.168.0.100", 53), "rr", 0, 0, "255.255.255.255"), {}),
    }
    cmds = [(cmd, key) for cmd, _payload, key in plan_commands(table.services, kernel)]
    assert [c for c, _ in cmds] == [m.CMD_NEW_DEST, m.CMD_SET_SERVICE, m.CMD_SET_DEST, m.CMD_DEL_DEST, m.CMD_DEL_SERVICE]
    assert plan_commands(table.services, {}) [0][0] == m.CMD_NEW_SERVICE
    same = {svc.key: (m.KernelService(svc.key, "wlc", 0, 0, "255.255.255.255"), {
        ("10.0.0.1", 80): m.KernelDest("10.0.0.1", 80, Forward.MASQ, 2, 0, 0),
        ("10.0.0.2", 80): m.KernelDest("10.0.0.2", 80, Forward.MASQ, 1, 0, 0),
    })}
    assert plan_commands(table.services, same) == []


def test_proc_ip_vs_conn(tmp_path):
    proc = tmp_path / "ip_vs_conn"
    proc.write_text(
        "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
        "TCP C0A80002 D431 C0A80064 0050 0A000002 0050 ESTABLISHED    895\n"
        "TCP C0A80000 0000 C0A80064 0050 0A000002 0050 NONE           290\n"
    )
    conns = read_connections({}, 10.0, str(proc))
    assert [(c.caddr, c.cport, c.vaddr, c.vport, c.daddr, c.state, c.expires, c.template) for c in conns] == [
        ("192.168.0.2", 0xD431, "192.168.0.100", 80, "10.0.0.2", "ESTABLISHED", 905.0, False),
        ("192.168.0.0", 0, "192.168.0.100", 80, "10.0.0.2", "NONE", 300.0, True),
    ]
