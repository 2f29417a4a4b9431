"""ldirectord.cf -> lvs.cf: the howto's example, every mapping, and what cannot map."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piranha.cli.importer import render
from piranha.config import Environment, parse
from piranha.config.ldirectord import Conversion, convert

DATA = Path(__file__).parent / "data"
ENV = Environment.hermetic()


def lines_of(conversion: Conversion) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for n in conversion.notes:
        out.setdefault(n.line, []).append(n.message)
    return out


def checked(text: str):
    """Convert, write lvs.cf, and read it back as `piranha check` does."""
    lvs_cf, _ = render(text, "ldirectord.cf", ENV)
    return parse(lvs_cf, environment=ENV), convert(text, ENV)


def test_the_howto_example_converts_and_passes_the_check():
    text = (DATA / "howto-ldirectord.cf").read_text()
    cfg, conversion = checked(text)
    assert cfg.warnings == []
    assert cfg.network == "direct" and cfg.autoreload is True
    [v] = cfg.virtuals
    assert v.name == "http-10.10.10.53" and v.active
    assert (v.address, v.device, v.port, v.protocol) == ("10.10.10.53", "eth0:1", 80, "tcp")
    assert (v.scheduler, v.persistent, v.sorry_server) == ("lblc", 100, "127.0.0.1")
    assert v.send == r"GET /check.txt HTTP/1.0\r\n\r\n"
    assert (v.expect, v.use_regex) == ("webserverisworking", True)
    assert (v.timeout, v.reentry, v.quiesce_server) == (2, 2, False)
    assert [(s.name, s.address, s.weight, s.active) for s in v.servers] == [
        ("real1", "192.168.200.102", 1, True),
        ("real2", "192.168.200.103", 1, True),
    ]
    notes = lines_of(conversion)
    assert sorted(notes) == [1, 4, 6, 15]  # checktimeout, logfile, the VIP's device, lbrc
    assert "lbrc" in notes[15][0] and "typo" in notes[15][0] and "using lblc" in notes[15][0]
    assert "timeout = 2" in notes[1][0]


def test_the_howto_example_through_the_command(tmp_path):
    out = tmp_path / "lvs.cf"
    proc = subprocess.run(
        [sys.executable, "-m", "piranha.cli.main", "import", "ldirectord",
         str(DATA / "howto-ldirectord.cf"), "-o", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "howto-ldirectord.cf:15: note: scheduler `lbrc` does not exist" in proc.stderr
    text = out.read_text()
    assert text.startswith("# Converted from ")
    assert "#   line 15: scheduler `lbrc`" in text
    check = subprocess.run(
        [sys.executable, "-m", "piranha.cli.main", "check", "-c", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


def test_command_errors(tmp_path):
    missing = subprocess.run(
        [sys.executable, "-m", "piranha.cli.main", "import", "ldirectord", str(tmp_path / "nope")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    bad = tmp_path / "bad.cf"
    bad.write_text("virtual=unresolvable.invalid:80\n\treal=10.0.0.2:80 gate\n")
    out = tmp_path / "lvs.cf"
    proc = subprocess.run(
        [sys.executable, "-m", "piranha.cli.main", "import", "ldirectord", str(bad), "-o", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2 and "does not pass the check; nothing written" in proc.stderr
    assert not out.exists()


def test_tabs_trailing_comments_and_the_end_of_a_section():
    text = (
        "checkinterval=5\n"
        "# a comment\n"
        "virtual=192.168.0.100:25\n"
        "\treal=10.0.0.2:25 masq 3   # the big one\n"
        "\treal=10.0.0.3:25 masq\n"
        "    checktype=connect\n"
        "quiescent=yes\n"
        "    real=10.0.0.9:25 masq\n"
    )
    cfg, conversion = checked(text)
    [v] = cfg.virtuals
    assert [(s.address, s.weight) for s in v.servers] == [("10.0.0.2", 3), ("10.0.0.3", 1)]
    assert cfg.network == "nat" and v.quiesce_server and v.timeout == 5 and v.reentry == 5
    assert v.send is None and v.expect is None  # connect
    assert lines_of(conversion)[8] == ["indented line outside a virtual section; ignored"]


def test_conflicting_forwarding_methods_are_reported_at_their_lines():
    text = (
        "virtual=192.168.0.100:80\n"
        "\treal=10.0.0.2:80 gate\n"
        "\treal=10.0.0.3:80 gate\n"
        "\treal=10.0.0.4:80 ipip\n"
        "virtual=192.168.0.101:443\n"
        "\treal=10.0.0.5:443 masq\n"
        "\tservice=https\n"
    )
    cfg, conversion = checked(text)
    assert cfg.network == "direct"
    notes = lines_of(conversion)
    assert "ipip (tunnel) conflicts with the other real servers' gate" in notes[4][0]
    assert "masq (nat) conflicts" in notes[6][0]
    assert [v.device for v in cfg.virtuals] == ["eth0:1", "eth0:2"]


def test_https_virtualhost_and_head():
    text = (
        "virtual=192.168.0.100:443\n"
        "\treal=10.0.0.2:443 gate\n"
        "\tservice=https\n"
        '\trequest="healthz"\n'
        "\thttpmethod=head\n"
        '\tvirtualhost="www.example.com"\n'
    )
    cfg, _ = checked(text)
    [v] = cfg.virtuals
    assert v.check_tls and v.use_regex
    assert v.send == r"HEAD /healthz HTTP/1.0\r\nHost: www.example.com\r\n\r\n"
    assert v.expect == "^HTTP/[0-9.]+ [23][0-9][0-9]"  # no receive: a successful status


@pytest.mark.parametrize(
    ("settings_", "expected", "note"),
    [
        ("\tchecktype=external\n\tcheckcommand=\"/usr/local/bin/check\"\n",
         {"send_program": "/usr/local/bin/check 192.168.0.100 8000 %h %p"}, None),
        ("\tchecktype=on\n", {"send_program": "/bin/true"}, "checktype=on"),
        ("\tchecktype=ping\n", {"send_program": None, "send": None}, "nanny sends no ICMP"),
        ("\tservice=ftp\n", {"send": r"QUIT\r\n", "expect": "220"}, "greeting"),
        ("\tservice=simpletcp\n\trequest=\"PING\\n\"\n\treceive=\"PONG\"\n",
         {"send": "PING\\n", "expect": "PONG", "use_regex": True}, None),
        ("\tservice=mysql\n\tlogin=\"u\"\n", {"send": None}, "no nanny equivalent"),
        ("\tchecktype=3\n\tservice=http\n", {"expect": "^HTTP/[0-9.]+ [23][0-9][0-9]"}, "every check negotiates"),
    ],
)  # fmt: skip
def test_check_types(settings_, expected, note):
    text = "virtual=192.168.0.100:8000\n\treal=10.0.0.2:8000 gate\n" + settings_
    cfg, conversion = checked(text)
    [v] = cfg.virtuals
    for key, value in expected.items():
        assert getattr(v, key) == value, key
    if note:
        assert any(note in n.message for n in conversion.notes)


def test_checktype_off_leaves_the_servers_inactive():
    cfg, _ = checked("virtual=192.168.0.100:80\n\treal=10.0.0.2:80 gate\n\tchecktype=off\n")
    assert [s.active for s in cfg.virtuals[0].servers] == [False]


def test_ranges_weights_ports_and_per_real_checks():
    text = (
        "virtual=192.168.0.100:80\n"
        "\treal=10.0.0.2->10.0.0.4:8080 masq 5\n"
        '\treal=10.0.0.9 masq 2 "/ok.html", "OK"\n'
    )
    cfg, conversion = checked(text)
    servers = cfg.virtuals[0].servers
    assert [(s.address, s.port, s.weight) for s in servers] == [
        ("10.0.0.2", 8080, 5), ("10.0.0.3", 8080, 5), ("10.0.0.4", 8080, 5), ("10.0.0.9", None, 2),
    ]  # fmt: skip
    assert any("per-real-server request/receive" in m for m in lines_of(conversion)[3])


def test_global_fallback_persistence_and_unknowns():
    text = (
        "fallback=127.0.0.1:8080 gate\n"
        'emailalert="ops@example.com"\n'
        "frobnicate=yes\n"
        "virtual6=[2001:db8::1]:80\n"
        "virtual=192.168.0.100:80\n"
        "\treal=10.0.0.2:80 gate\n"
        "\tpersistent=600\n"
        "\tnetmask=255.255.255.0\n"
        "\tscheduler=sed\n"
        "\tops=yes\n"
        "virtual=192.168.0.100:81\n"
        "\treal=10.0.0.2:81 gate\n"
        "\tscheduler=roundrobin\n"
        "\tfallback=10.0.0.99\n"
    )
    cfg, conversion = checked(text)
    a, b = cfg.virtuals
    assert (a.persistent, a.pmask, a.scheduler, a.sorry_server) == (
        600,
        "255.255.255.0",
        "sed",
        "127.0.0.1",
    )
    assert (b.scheduler, b.sorry_server, b.device) == ("wrr", "10.0.0.99", "eth0:1")
    notes = lines_of(conversion)
    assert "sorry server is reached on the virtual port 80" in notes[1][0]
    assert "piranha sends no mail" in notes[2][0]
    assert notes[3] == ["unknown ldirectord setting `frobnicate`; ignored"]
    assert "IPv6" in notes[4][0]
    assert "one-packet" in notes[10][0]
    assert "unknown scheduler `roundrobin`" in notes[13][0]


def test_firewall_mark_services_are_left_inactive_with_a_note():
    cfg, conversion = checked("virtual=80\n\treal=10.0.0.2 gate\n\tservice=http\n")
    [v] = cfg.virtuals
    assert v.fwmark == 80 and not v.active
    assert "firewall-mark service" in lines_of(conversion)[1][0]


def test_service_names_as_ports():
    cfg, _ = checked("virtual=192.168.0.100:http\n\treal=10.0.0.2:http gate\n")
    assert cfg.virtuals[0].port == 80


_LINE = st.sampled_from(
    [
        "checkinterval=3", "checktimeout=7", "negotiatetimeout=9", "quiescent=yes", "quiescent=maybe",
        "autoreload=no", "fork=yes", "logfile=\"local0\"", "fallback=127.0.0.1:80", "fallback=x y z",
        "virtual=192.168.0.100:80", "virtual=192.168.0.101:53", "virtual=7", "virtual=bad",
        "\treal=10.0.0.2:80 gate", "\treal=10.0.0.3 masq 4", "\treal=10.0.0.4:99999 ipip",
        "\treal=10.0.0.5->10.0.0.3 gate", "\treal=10.0.0.6 tunnel", "\tchecktype=connect",
        "\tchecktype=negotiate", "\tchecktype=external", "\tchecktype=off", "\tservice=https",
        "\tservice=dns", "\tservice=pop", "\trequest=\"/x\"", "\treceive=\"(\"", "\treceive=\"ok\"",
        "\tscheduler=lbrc", "\tscheduler=wlc", "\tpersistent=30", "\tnetmask=255.0.0.0",
        "\tnetmask=1.2.3.4", "\tprotocol=udp", "\tprotocol=fwm", "\tfallback=10.0.0.9:81 masq",
        "\tcheckinterval=1", "\tcheckport=8080", "\tweird", "", "# comment", "  stray",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(_LINE, max_size=25))
def test_any_file_converts_to_an_lvs_cf_or_says_why(lines):
    text = "\n".join(lines) + "\n"
    lvs_cf, _ = render(text, "ldirectord.cf", ENV)
    parse(lvs_cf, environment=ENV)  # raises ConfigError if the result does not pass the check
