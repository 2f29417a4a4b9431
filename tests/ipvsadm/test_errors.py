"""Every refusal: ipvsadm's exact text on stderr and its exit status, table untouched."""

from __future__ import annotations

import pytest

from piranha.table import model

from .helpers import new_table, ok, reference_table, sh

TRY = "Try `lvsadm -h' or 'lvsadm --help' for more information.\n"

# command line -> (exit status, stderr)
USAGE_ERRORS = {
    # popt cannot find a command first: exit 255 with the hint
    "-t 1.2.3.4:80 -A": (255, TRY),
    "-nL": (255, TRY),
    "-n": (255, TRY),
    "foo": (255, TRY),
    "--foo": (255, TRY),
    "--list=x": (255, TRY),
    "-s": (255, TRY),
    # popt errors after the command: "<word>: <popt message>", exit 255
    "-L --foo": (255, "--foo: unknown option\n"),
    "-L --num": (255, "--num: unknown option\n"),
    "-Lq": (255, "-Lq: unknown option\n"),
    "-A -t": (255, "-t: missing argument\n"),
    "-At": (255, "-At: missing argument\n"),
    "-L --numeric=1": (255, "--numeric=1: option does not take an argument\n"),
    "-L -n=": (255, "-n=: unknown option\n"),
    "-A -t 1.2.3.4:80 -p -1": (255, "-1: unknown option\n"),
    # a second command (or -h, -v) after the first
    "-L -A": (2, "invalid option `-A'\n"),
    "-L -h": (2, "invalid option `-h'\n"),
    "-Lv": (2, "invalid option `-Lv'\n"),
    "-L -list": (2, "invalid option `-list'\n"),
    "-L --set": (2, "invalid option `--set'\n"),
    "-L --start-daemon master": (2, "invalid option `master'\n"),
    "--start-daemon foo": (2, "illegal start-daemon parameter specified\n"),
    "--stop-daemon foo": (2, "illegal start_daemon specified\n"),
    # the same option twice
    "-A -t 1.2.3.4:80 -t 1.2.3.5:80": (2, "multiple 'service-address' options specified\n"),
    "-A -t 1.2.3.4:80 -f 1": (2, "multiple 'service-address' options specified\n"),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -m -g": (2, "multiple 'forwarding-method' options specified\n"),
    "-Lnn": (2, "multiple 'numeric' options specified\n"),
    "-L --stats --stats": (2, "multiple 'stats' options specified\n"),
    # values
    "-A -t 999.1.1.1:80": (2, "illegal virtual server address[:port] specified\n"),
    "-A -t 80": (2, "illegal virtual server address[:port] specified\n"),
    "-A -t ''": (2, "illegal virtual server address[:port] specified\n"),
    "-A -t 1.2.3.4:65536": (2, "illegal virtual server address[:port] specified\n"),
    "-A -t 1.2.3.4:": (2, "illegal virtual server address[:port] specified\n"),
    "-A -t 1.2.3.4:http": (2, "illegal virtual server address[:port] specified\n"),
    "-A -t www.example.com:80": (2, "illegal virtual server address[:port] specified\n"),
    "-A -t [::1]": (2, "illegal virtual server address[:port] specified\n"),
    "-A -t [::1:80": (2, "illegal virtual server address[:port] specified\n"),
    "-L -numeric": (2, "illegal virtual server address[:port] specified\n"),
    "-a -t 1.2.3.4:80 -r bogus": (2, "illegal real server address[:port] specified\n"),
    "-a -t 1.2.3.4:80 -r 10.0.0.1:x": (2, "illegal real server address[:port] specified\n"),
    "-A -f 0": (2, "invalid fwmark value `0' specified\n"),
    "-A -f -1": (2, "invalid fwmark value `-1' specified\n"),
    "-A -f 4294967296": (2, "invalid fwmark value `4294967296' specified\n"),
    "-A -f 1x": (2, "invalid fwmark value `1x' specified\n"),
    "-A -t 1.2.3.4:80 -p 0": (2, "invalid timeout value `0' specified\n"),
    "-A -t 1.2.3.4:80 -p 2678401": (2, "invalid timeout value `2678401' specified\n"),
    "-A -t 1.2.3.4:80 -p=abc": (2, "invalid timeout value `abc' specified\n"),
    "-A -t 1.2.3.4:80 -M 300.0.0.0": (2, "illegal virtual server persistent mask specified\n"),
    "-A -t 1.2.3.4:80 -M ''": (2, "illegal virtual server persistent mask specified\n"),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -w 65536": (2, "illegal weight specified\n"),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -w -1": (2, "illegal weight specified\n"),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -w 1x": (2, "illegal weight specified\n"),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -x -1": (2, "illegal u_threshold specified\n"),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -x 2147483648": (2, "illegal u_threshold specified\n"),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -y abc": (2, "illegal l_threshold specified\n"),
    "--start-daemon master --syncid 256": (2, "illegal syncid specified\n"),
    "--start-daemon master --mcast-group 1.2.3.4": (2, "invalid IPv4 mcast-group `1.2.3.4'\n"),
    "--start-daemon master --mcast-group 224.1": (2, "invalid IPv4 mcast-group `224.1'\n"),
    "--start-daemon master --mcast-group fe80::1": (2, "invalid IPv6 mcast-group `fe80::1'\n"),
    "--start-daemon master --mcast-port 0": (2, "illegal mcast-port specified\n"),
    "--start-daemon master --mcast-ttl 256": (2, "illegal mcast-ttl specified\n"),
    "--start-daemon master --sync-maxlen 65508": (2, "illegal sync-maxlen specified\n"),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -i --tun-type vxlan": (2, "illegal tunnel type specified\n"),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -i --tun-port 0": (2, "illegal tunnel port specified\n"),
    "--set 1 2": (2, "--set option requires 3 timeout values\n"),
    "--set": (2, "--set option requires 3 timeout values\n"),
    "--set 1 2 x": (2, "invalid timeout value `x' specified\n"),
    "--set 1 2 2678401": (2, "invalid timeout value `2678401' specified\n"),
    "--set 1 2 3 4": (2, "unexpected argument 4\n"),
    "-L foo": (2, "unexpected argument foo\n"),
    "-L -": (2, "unexpected argument -\n"),
    "-L -6": (2, "-6 used before -f\n\n"),
    "-A -t 1.2.3.4:80 -b foo": (2, "invalid scheduler flag `foo'\n"),
    "-A -t 1.2.3.4:80 -b flag-1,bar": (2, "invalid scheduler flag `bar'\n"),
    "-A -t 1.2.3.4:80 -s rr -b sh-port": (2, "incompatible scheduler flag `sh-port'\n"),
    "-A -t 1.2.3.4:80 -b mh-fallback": (2, "incompatible scheduler flag `mh-fallback'\n"),
    "-A -t 1.2.3.4:80 -s sh -b mh-port": (2, "incompatible scheduler flag `mh-port'\n"),
    # the command/option table
    "-A": (2, "You need to supply the 'service-address' option for the 'add-service' command\n"),
    "-a -t 1.2.3.4:80": (
        2,
        "You need to supply the 'real-server' option for the 'add-server' command\n",
    ),
    "-d -r 1.1.1.1": (
        2,
        "You need to supply the 'service-address' option for the 'delete-server' command\n",
    ),
    "-A -t 1.2.3.4:80 -n": (2, "Illegal 'numeric' option with the 'add-service' command\n"),
    "-D -t 1.2.3.4:80 -s rr": (2, "Illegal 'scheduler' option with the 'delete-service' command\n"),
    "-C -n": (2, "Illegal 'numeric' option with the 'flush' command\n"),
    "-S --nosort": (2, "Illegal 'nosort' option with the 'save' command\n"),
    "-R -n": (2, "Illegal 'numeric' option with the 'restore' command\n"),
    "--set 1 2 3 -n": (2, "Illegal 'numeric' option with the 'set' command\n"),
    "-L -c -t 1.2.3.4:80": (
        2,
        "The option 'service-address' conflicts with the 'connection' option "
        "in the 'list' command\n",
    ),
    "-L --daemon --timeout": (
        2,
        "The option 'daemon' conflicts with the 'timeout' option in the 'list' command\n",
    ),
    # command rules
    "-A -t 1.2.3.4:0": (2, "Zero port specified for non-persistent service\n"),
    "-A -t 1.2.3.4": (2, "Zero port specified for non-persistent service\n"),
    "-E -u 1.2.3.4": (2, "Zero port specified for non-persistent service\n"),
    "-A -t 1.2.3.4:53 -o": (2, "One-Packet Scheduling is only for UDP virtual services\n"),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 --tun-type ipip": (
        2,
        "Tunnel options conflict with forward method\n",
    ),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -m --tun-csum": (
        2,
        "Tunnel options conflict with forward method\n",
    ),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -i --tun-type gue": (
        2,
        "You need to supply the 'tun-port' option for the 'gue' tunnel type\n",
    ),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -i --tun-port 5": (
        2,
        "Illegal 'tun-port' option with the 'ipip' tunnel type\n",
    ),
    "-e -t 1.2.3.4:80 -r 1.1.1.1 -i --tun-type gre --tun-remcsum": (
        2,
        "Illegal 'tun-remcsum' option with the 'gre' tunnel type\n",
    ),
    "-a -t 1.2.3.4:80 -r 1.1.1.1 -i --tun-type gue --tun-port 6080 --tun-nocsum --tun-csum": (
        2,
        "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type\n",
    ),
    "-a -f 1 -r [::1]:80": (2, "Different address family is allowed only for tunneling servers\n"),
    "-a -t 1.2.3.4:80 -r [::1]:80 -m": (
        2,
        "Different address family is allowed only for tunneling servers\n",
    ),
    "-L -c --stats": (2, "options conflicts in the list command\n"),
    "-L --daemon --rate": (2, "options conflicts in the list command\n"),
    "-L --timeout --persistent-conn": (2, "options conflicts in the list command\n"),
}


@pytest.mark.parametrize("line", list(USAGE_ERRORS))
def test_refused_command_lines(line: str) -> None:
    table = reference_table(new_table())
    before = sh(table, "-Sn").stdout
    result = sh(table, line)
    code, stderr = USAGE_ERRORS[line]
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", stderr)
    assert result.changed is False
    assert sh(table, "-Sn").stdout == before


# command line -> (exit status, stderr), run on the reference table
TABLE_ERRORS = {
    "-A -t 192.168.1.100:80": (255, "Service already exists\n"),
    "-A -f 100 -s rr": (255, "Service already exists\n"),
    "-A -t 10.9.9.9:80 -s foo": (255, "Scheduler or persistence engine not found\n"),
    "-A -t 10.9.9.9:80 --pe foo": (255, "Scheduler or persistence engine not found\n"),
    "-E -t 192.168.1.100:80 -s foo": (255, "Scheduler or persistence engine not found\n"),
    "-E -t 192.168.1.100:80 -p --pe bar": (255, "Scheduler or persistence engine not found\n"),
    "-E -t 10.9.9.9:80": (255, "No such service\n"),
    "-D -t 10.9.9.9:80": (255, "No such service\n"),
    "-D -f 101": (255, "No such service\n"),
    "-D -f 100 -6": (255, "No such service\n"),  # the IPv6 service of mark 100
    "-a -f 100 -6 -r 10.0.0.9": (
        2,
        "Different address family is allowed only for tunneling servers\n",
    ),
    "-a -f 100 -6 -r 10.0.0.9 -i": (255, "Service not defined\n"),
    "-Z -u 192.168.1.100:80": (255, "No such service\n"),
    "-a -t 10.9.9.9:80 -r 10.0.0.2": (255, "Service not defined\n"),
    "-e -t 10.9.9.9:80 -r 10.0.0.2": (255, "Service not defined\n"),
    "-d -t 10.9.9.9:80 -r 10.0.0.2": (255, "Service not defined\n"),
    "-a -t 192.168.1.100:80 -r 10.0.0.2 -m": (255, "Destination already exists\n"),
    "-e -t 192.168.1.100:80 -r 10.0.0.9 -m": (255, "No such destination\n"),
    "-d -t 192.168.1.100:80 -r 10.0.0.9": (255, "No such destination\n"),
    "-d -t 192.168.1.100:80 -r 10.0.0.2:81": (255, "No such destination\n"),
    "-a -t 192.168.1.100:80 -r 10.0.0.9 -y 5": (255, "Numerical result out of range\n"),
    "-e -t 192.168.1.100:80 -r 10.0.0.9 -x 5 -y 6": (255, "Numerical result out of range\n"),
    "--stop-daemon master": (255, "No daemon is running\n"),
    "-A -f 7 -6": (255, "Operation not supported with specified address family\n"),
    "-A -t [2001:db8::1]:80": (255, "Operation not supported with specified address family\n"),
    "-a -t 192.168.1.100:80 -r [2001:db8::1]:80 -i": (
        255,
        "Operation not supported with specified address family\n",
    ),
    "-A --sctp-service 10.1.1.1:80": (255, "Protocol not available\n"),
    "-a -t 192.168.1.100:80 -r 10.0.0.9 -i --tun-type gue --tun-port 6080": (
        255,
        "Tunnel type `gue' is not supported: piranha's tunnels are ipip\n",
    ),
    # listing a service that does not exist: exit 1
    "-L -t 10.9.9.9:80": (1, "No such service\n"),
    "-L -n --stats -f 5": (1, "No such service\n"),
    "-L -n -f 100 -6": (1, "No such service\n"),
}


@pytest.mark.parametrize("line", list(TABLE_ERRORS))
def test_refusals_by_the_table(line: str) -> None:
    table = reference_table(new_table())
    before = sh(table, "-Sn").stdout
    result = sh(table, line)
    code, stderr = TABLE_ERRORS[line]
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", stderr)
    assert result.changed is False
    assert sh(table, "-Sn").stdout == before


def test_daemon_already_running(table: model.VirtualTable) -> None:
    ok(table, "--start-daemon master")
    result = sh(table, "--start-daemon master --syncid 3")
    assert (result.exit_code, result.stderr) == (255, "Daemon has already run\n")
    ok(table, "--start-daemon backup", "--stop-daemon master")
    assert sh(table, "-L --daemon").stdout == "backup sync daemon (mcast=eth0, syncid=0)\n"
    result = sh(table, "--stop-daemon master")
    assert (result.exit_code, result.stderr) == (255, "No daemon is running\n")


def test_program_name_in_the_hint(table: model.VirtualTable) -> None:
    result = sh(table, "-x", prog="ipvsadm")
    assert result.stderr == "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"
    assert result.exit_code == 255
