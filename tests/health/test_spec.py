"""monitor_spec: where lvs.cf keys become check settings."""

from piranha.config import Environment, parse
from piranha.health import failover_monitor_spec, monitor_spec

LVS_CF = """\
primary = 192.168.0.10
service = lvs
rsh_command = ssh
network = direct
virtual www {
    active = 1
    address = 192.168.0.100 eth0:1
    port = 80
    send = "GET /health HTTP/1.0\\r\\n\\r\\n"
    expect = "HTTP/1\\.[01] 200"
    use_regex = 1
    load_monitor = uptime
    timeout = 6
    reentry = 45
    quiesce_server = 1
    check_tls = 1
    server web1 {
        address = 10.0.0.2
        active = 1
        weight = 200
        port = 8443
    }
    server web2 {
        address = 10.0.0.3
        active = 1
    }
}
virtual dns {
    active = 1
    address = 192.168.0.101 eth0:2
    port = 53
    protocol = udp
    send_program = "/usr/local/bin/check_dns %h"
    expect = "OK"
    load_monitor = none
    server ns1 {
        address = 10.0.0.5
        active = 1
    }
}
"""

FOS_CF = """\
primary = 192.168.0.10
service = fos
failover ftp {
    active = 1
    address = 192.168.0.200 eth0:3
    port = 21
    send = "quit"
    expect = "220"
    timeout = 4
    start_cmd = "/etc/init.d/vsftpd start"
    stop_cmd = "/etc/init.d/vsftpd stop"
}
"""


def test_virtual_and_server_keys():
    cfg = parse(LVS_CF, environment=Environment.hermetic())
    www = cfg.virtuals[0]
    s1 = monitor_spec(cfg, www, www.servers[0])
    assert s1.label == "www/web1" and s1.vip == "192.168.0.100"
    assert (s1.check.address, s1.check.port, s1.check.vport) == ("10.0.0.2", 8443, 80)
    assert s1.check.send == r"GET /health HTTP/1.0\r\n\r\n"  # translated later, by the probe
    assert s1.check.expect == r"HTTP/1\.[01] 200" and s1.check.use_regex and s1.check.tls
    assert (s1.check.timeout, s1.reentry, s1.quiesce, s1.weight) == (6.0, 45.0, True, 200)
    assert (s1.load_monitor, s1.rsh_command, s1.scale, s1.lvs_mode) == ("uptime", "ssh", 10, True)
    s2 = monitor_spec(cfg, www, www.servers[1])
    assert s2.check.port == 80 and s2.weight == 1
    dns = cfg.virtuals[1]
    s3 = monitor_spec(cfg, dns, dns.servers[0])
    assert s3.check.protocol == "udp" and s3.check.send_program == "/usr/local/bin/check_dns %h"
    assert s3.load_monitor is None and s3.reentry == 180.0 and s3.check.timeout == 10.0


def test_failover_service():
    cfg = parse(FOS_CF, environment=Environment.hermetic())
    spec = failover_monitor_spec(cfg, cfg.failovers[0])
    assert not spec.lvs_mode and spec.label == "ftp"
    assert (spec.check.address, spec.check.port, spec.check.send, spec.check.expect) == (
        "192.168.0.200", 21, "quit", "220",
    )  # fmt: skip
    assert spec.check.timeout == 4.0 and spec.reentry == 4.0
