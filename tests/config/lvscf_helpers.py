"""Shared test helpers for piranha.config: data files, an environment, strategies.

`configs()` draws valid configurations (valid by construction: every draw
must parse back without errors, which the property tests assert);
`layouts()` writes a configuration as an administrator might have,
with comments, odd indentation, mixed line ends, duplicate keys and numbers
in other bases.
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import strategies as st

from piranha.config import SCHEDULERS, Config, Environment, Failover, Server, Virtual
from piranha.config.schema import KEYS, SCHED_FLAGS, SERVER
from piranha.config.writer import block_lines, canonical_keys, format_value, render_token

DATA = Path(__file__).parent / "data"
SEEDS = ("five-node.lvs.cf", "piranha-sample.lvs.cf", "ldirectord-howto.lvs.cf")
# piranha-behaviour.md §1.6: the file as the 0.8.6 GUI would write it.
EXAMPLE_1_6 = """\
serial_no = 14
primary = 192.168.0.10
service = lvs
rsh_command = ssh
backup_active = 1
backup = 192.168.0.11
heartbeat = 1
heartbeat_port = 539
keepalive = 6
deadtime = 18
network = nat
nat_router = 10.0.0.254 eth1:1
nat_nmask = 255.255.255.0
debug_level = NONE
monitor_links = 0
syncdaemon = 1
syncd_iface = eth1
syncd_id = 0
virtual www {
     active = 1
     address = 192.168.0.100 eth0:1
     vip_nmask = 255.255.255.0
     port = 80
     persistent = 60
     pmask = 255.255.255.0
     send = "GET / HTTP/1.0\\r\\n\\r\\n"
     expect = "HTTP"
     use_regex = 0
     load_monitor = none
     scheduler = wlc
     protocol = tcp
     timeout = 6
     reentry = 15
     quiesce_server = 0
     server web1 {
         address = 10.0.0.2
         active = 1
         weight = 1
     }
     server web2 {
         address = 10.0.0.3
         active = 1
         port = 8080
         weight = 2
     }
}
"""

HOSTS = {"lb1.example.com": "192.0.2.10", "lb2.example.com": "192.0.2.11", "web": "10.0.0.80"}


def env(**kw) -> Environment:
    return Environment.hermetic(hosts=HOSTS, **kw)


def seed_text(name: str) -> str:
    return (DATA / name).read_text()


# --- values ------------------------------------------------------------------------
def _writable(force: bool = False):
    return lambda s: render_token(s, force) is not None


# Any printable text, blanks included (the writer quotes it), both kinds of
# quote but never both in one value that needs quoting.
free_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), max_codepoint=0x2FFF),
    max_size=16,
)
words = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_./:"), min_size=1, max_size=10
)
strings = st.one_of(words, free_text).filter(_writable())
quoted_strings = strings.filter(_writable(True))
names = st.one_of(words, free_text.filter(bool)).filter(_writable())
commands = st.builds(
    lambda a, b: f"/usr/bin/{a} {b}".rstrip(), words, st.sampled_from(["", "start", "-x %h %p"])
)
ips = st.builds(
    lambda a, b, c: f"10.{a}.{b}.{c}", st.integers(0, 255), st.integers(0, 255), st.integers(1, 254)
)
hosts = st.one_of(ips, ips, st.sampled_from(sorted(HOSTS)))
masks = st.integers(0, 32).map(
    lambda n: ".".join(str((0xFFFFFFFF << (32 - n)) >> s & 0xFF) for s in (24, 16, 8, 0))
)
devices = st.builds(
    lambda n, a: f"eth{n}" + (f":{a}" if a is not None else ""),
    st.integers(0, 9),
    st.none() | st.integers(0, 99),
)
ports = st.integers(1, 65535)
regexes = st.sampled_from(["HTTP", "^HTTP/1\\.[01] 200", "OK|READY", "a+b*", "\\r\\n$", "[0-9]{3}"])


def maybe(strategy):
    return st.none() | strategy


@st.composite
def servers(draw, index: int, active: bool | None = None) -> Server:
    is_active = draw(st.booleans()) if active is None else active
    s = Server(draw(names))
    s.address = (
        f"192.168.{index // 250}.{index % 250 + 1}"
        if is_active or draw(st.booleans())
        else "0.0.0.0"
    )
    s.active = is_active
    s.port = draw(maybe(ports))
    s.weight = draw(st.integers(0, 65535))
    s.nmask = draw(maybe(masks))
    u = draw(st.integers(0, 65535))
    s.uthreshold, s.lthreshold = u, draw(st.integers(0, u))
    return s


@st.composite
def virtuals(draw, index: int) -> Virtual:
    v = Virtual(draw(names))
    v.active = draw(st.booleans())
    if v.active or draw(st.booleans()):
        v.address = (
            f"10.{index // 250}.{index % 250}.1"
            if draw(st.integers(0, 9))
            else draw(st.sampled_from(sorted(HOSTS)))
        )
        if v.address in HOSTS and v.active:
            v.address = f"10.{index // 250}.{index % 250}.1"  # unique service identity
        v.device = draw(devices)
    v.sorry_server = draw(maybe(ips))
    v.vip_nmask = draw(maybe(masks))
    v.protocol = draw(st.sampled_from(["tcp", "udp"]))
    v.scheduler = draw(st.sampled_from(SCHEDULERS))
    if draw(st.booleans()):
        v.fwmark = index + 1
        v.port = draw(st.sampled_from([21, 80, 443]))
        if draw(st.booleans()):
            v.fwmark_ports = draw(
                st.sampled_from(["21,10000-20000", "80,443", "443,80", "1-65535"])
            )
            if v.fwmark_ports == "21,10000-20000":
                v.port = 21
            elif v.fwmark_ports in ("80,443", "443,80") and v.port == 21:
                v.port = 80
    else:
        v.port = draw(ports)
    v.persistent = draw(st.sampled_from([0, 0, 1, 60, 2678400]))
    v.pmask = draw(maybe(masks))
    v.send = draw(maybe(quoted_strings))
    v.use_regex = draw(st.booleans())
    v.expect = draw(regexes) if v.use_regex else draw(maybe(quoted_strings))
    v.send_program = draw(maybe(commands))
    v.expect_program = draw(maybe(quoted_strings))
    v.load_monitor = draw(maybe(st.sampled_from(["uptime", "rup", "ruptime", "none"])))
    v.deadtime = draw(maybe(st.integers(-5, 100)))
    v.timeout = draw(st.integers(1, 100000))
    v.reentry = draw(st.integers(1, 100000))
    v.quiesce_server = draw(st.booleans())
    v.client_monitor = draw(maybe(commands))
    v.start_cmd = draw(maybe(commands))
    v.master = draw(maybe(hosts))
    v.dirs = draw(maybe(st.lists(strings, max_size=3)))
    v.proxy_protocol = draw(st.booleans())
    v.check_tls = draw(st.booleans())
    flags = [f for f, owner in SCHED_FLAGS.items() if owner in (None, v.scheduler)]
    chosen = draw(st.lists(st.sampled_from(flags), max_size=2, unique=True))
    v.sched_flags = ",".join(chosen) or None
    count = draw(st.integers(0, 3))
    v.servers = [draw(servers(index * 10 + j)) for j in range(count)]
    return v


@st.composite
def failovers(draw, index: int) -> Failover:
    f = Failover(draw(names))
    f.active = draw(st.booleans())
    if f.active or draw(st.booleans()):
        f.address = f"172.16.{index}.1"
        f.device = draw(devices)
    if f.active or draw(st.booleans()):
        f.start_cmd, f.stop_cmd = draw(commands), draw(commands)
    f.port = draw(ports)
    f.timeout = draw(st.integers(1, 1000))
    f.heartbeat = draw(maybe(st.booleans()))
    f.send = draw(maybe(quoted_strings))
    f.expect = draw(maybe(quoted_strings))
    f.protocol = draw(st.sampled_from(["tcp", "udp"]))
    f.reentry = draw(maybe(st.integers(1, 100)))
    return f


@st.composite
def configs(draw) -> Config:
    c = Config()
    c.serial_no = draw(st.integers(0, 2**31 - 1))
    c.primary = draw(st.sampled_from(["0.0.0.0", "192.0.2.1", "lb1.example.com"]))
    c.backup = draw(st.sampled_from(["0.0.0.0", "192.0.2.2", "lb2.example.com"]))
    c.backup_active = c.primary != "0.0.0.0" and c.backup != "0.0.0.0" and draw(st.booleans())
    c.primary_private = draw(maybe(st.sampled_from(["10.255.0.1", "web"])))
    c.backup_private = draw(maybe(st.just("10.255.0.2")))
    c.primary_shared = draw(maybe(st.just("/dev/sdb")))
    c.service = draw(st.sampled_from(["lvs", "fos"]))
    c.rsh_command = draw(st.sampled_from(["rsh", "ssh", "/usr/bin/ssh -q"]))
    c.heartbeat = draw(maybe(st.booleans()))
    c.heartbeat_port = draw(ports)
    c.keepalive = draw(st.integers(1, 10))
    c.deadtime = draw(st.integers(1, 60))
    c.network = draw(st.sampled_from(["nat", "direct", "tunnel"]))
    if draw(st.booleans()):
        c.nat_router, c.nat_router_device = draw(hosts), draw(devices)
        c.nat_nmask = draw(maybe(masks))
    c.reservation_conflict_action = draw(maybe(st.sampled_from(["nothing", "preempt"])))
    c.debug_level = draw(maybe(st.just("NONE")))
    c.active_cmd = draw(maybe(commands))
    c.inactive_cmd = draw(maybe(commands))
    c.monitor_links = draw(st.integers(0, 3))
    c.syncdaemon = draw(st.booleans())
    c.syncd_iface = draw(st.sampled_from(["eth0", "eth1", "bond0.12"]))
    c.syncd_id = draw(st.integers(0, 255))
    c.tcp_timeout = draw(st.integers(0, 900))
    c.hard_shutdown = draw(st.booleans())
    c.sync = draw(maybe(st.booleans()))
    c.dataplane = draw(st.sampled_from(["auto", "userspace", "nftables", "ipvs"]))
    c.heartbeat_key_file = draw(maybe(st.just("/etc/sysconfig/ha/heartbeat.key")))
    c.expire_quiescent_template = draw(st.booleans())
    c.expire_nodest_conn = draw(st.booleans())
    c.autoreload = draw(st.booleans())
    c.virtuals = [draw(virtuals(i)) for i in range(draw(st.integers(0, 4)))]
    c.failovers = [draw(failovers(i)) for i in range(draw(st.integers(0, 2)))]
    return c


# --- text the way people write it ------------------------------------------------------
def _alternative(spec, block, rng: random.Random) -> str:
    """The value written another way that reads the same."""
    value = getattr(block, spec.key)
    if (
        spec.type in ("int", "port")
        and not isinstance(value, bool)
        and value > 0
        and rng.random() < 0.3
    ):
        return rng.choice([hex(value), "0" + oct(value)[2:]])
    if spec.type == "port" and value == 80 and rng.random() < 0.5:
        return "http"
    if spec.type == "hostdev":
        return f"{value}{rng.choice([' ', '  ', chr(9)])}{getattr(block, spec.device_field)}"
    text = format_value(spec, block)
    if spec.type in ("string", "choice") and rng.random() < 0.3 and not text.startswith(("'", '"')):
        quoted = render_token(value, True)
        return quoted or text
    return text


def layout(config: Config, seed: int) -> str:
    """`config` written with comments, blanks, odd spacing, mixed line ends and duplicates."""
    rng = random.Random(seed)
    eol_choices = [["\n"], ["\r\n"], ["\r"], ["\n", "\r\n", "\r"]][rng.randrange(4)]
    out: list[str] = []

    def emit(text: str) -> None:
        out.append(text + rng.choice(eol_choices))
        if rng.random() < 0.1:
            out.append(
                rng.choice(["", "  ", "\t", "# note", "   # indented comment \t"])
                + rng.choice(eol_choices)
            )

    def keys(section, block, indent: str) -> None:
        specs = canonical_keys(section, block)
        rng.shuffle(specs)
        for spec in specs:
            if rng.random() < 0.08 and spec.type in ("int", "bool") and spec.key not in ("active",):
                emit(f"{indent}{spec.key} = {1 if spec.type == 'bool' else 7}")  # overridden below
            gap = rng.choice([" ", " ", "  ", "\t"])
            trailing = rng.choice(["", "", " ", "\t"])
            emit(f"{indent}{spec.key}{gap}={gap}{_alternative(spec, block, rng)}{trailing}")

    if rng.random() < 0.5:
        emit("# lvs.cf written by hand")
    keys("global", config, rng.choice(["", "", " ", "\t"]))
    blocks = [("failover", f) for f in config.failovers] + [("virtual", v) for v in config.virtuals]
    for kind, block in blocks:
        indent = rng.choice(["    ", "\t", "     ", "  "])
        emit(f"{kind} {render_token(block.name)} {{")
        keys(kind, block, indent)
        for server in getattr(block, "servers", []):
            emit(f"{indent}server {render_token(server.name)} {{")
            keys(SERVER, server, indent * 2)
            emit(f"{indent}}}")
        emit("}")
    return "".join(out)


def canonical_block(section: str, block) -> str:
    return "\n".join(block_lines(section, block)) + "\n"


__all__ = ["EXAMPLE_1_6", "KEYS", "configs", "env", "layout", "seed_text"]
