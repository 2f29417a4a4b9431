"""ldirectord.cf -> lvs.cf: move an ldirectord (heartbeat) load balancer to piranha.

Pure: text in, a Config and notes out (``piranha import ldirectord`` does
the file I/O).  The file is read as ldirectord reads it: global
``key=value`` lines start in column 0; a ``virtual=`` line opens a section
whose lines are indented (a tab or at least four spaces, ``#`` comments
allowed at their end); the first line that is not indented ends it.

What maps (docs/import-ldirectord.md has the whole table):

* ``virtual=IP:port`` / ``virtual=MARK`` -> a ``virtual`` block; ``real=`` ->
  ``server`` blocks (address ranges expanded, weight kept); ``fallback=`` ->
  ``sorry_server``; ``quiescent`` -> ``quiesce_server``; ``persistent``,
  ``netmask`` -> ``pmask``, ``scheduler``, ``protocol``;
* ``gate``/``masq``/``ipip`` -> the global ``network`` (one method for the
  whole file in lvs.cf: conflicting methods are reported);
* ``checktype=connect`` -> a connect check; ``negotiate`` with
  ``service=http``/``https`` -> send ``GET /request HTTP/1.0``, expect the
  ``receive`` regex (``https``: ``check_tls = 1``); ``simpletcp`` -> send the
  request, expect the receive regex; ``external`` -> ``send_program``;
* ``checkinterval``/``checktimeout``/``negotiatetimeout`` -> ``timeout`` (and
  ``reentry``), explained in a note;
* ``autoreload`` -> ``autoreload``.

Everything without an equivalent is reported with its line number.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field

from .environment import Environment
from .escapes import translate_escapes
from .model import Config, Server, Virtual
from .schema import SCHEDULERS
from .values import inet_aton, ip_to_int

DEFAULT_INTERVAL = 10
DEFAULT_CHECKTIMEOUT = 5
DEFAULT_NEGOTIATETIMEOUT = 30
METHODS = {"gate": "direct", "masq": "nat", "ipip": "tunnel"}
SCHEDULER_TYPOS = {"lbrc": "lblc", "lbrcr": "lblcr"}  # the howto's spelling
PORT_SERVICES = {
    21: "ftp", 25: "smtp", 53: "dns", 80: "http", 110: "pop", 119: "nntp", 143: "imap",
    389: "ldap", 443: "https", 587: "submission", 993: "imaps", 995: "pops", 1521: "oracle",
    1812: "radius", 3128: "http_proxy", 3306: "mysql", 5060: "sip", 5432: "pgsql",
}  # fmt: skip
# Services whose greeting nanny can check (ldirectord logged in as well).
GREETINGS = {
    "ftp": ("QUIT\\r\\n", "220"),
    "smtp": ("QUIT\\r\\n", "220"),
    "submission": ("QUIT\\r\\n", "220"),
    "pop": ("QUIT\\r\\n", "+OK"),
    "imap": ("a1 LOGOUT\\r\\n", "* OK"),
    "nntp": ("QUIT\\r\\n", "20"),
}
HTTP_SUCCESS = "^HTTP/[0-9.]+ [23][0-9][0-9]"

# Global keys with no lvs.cf equivalent, and why.
IGNORED_GLOBAL = {
    "logfile": "piranha logs to syslog (or stdout with -n)",
    "emailalert": "piranha sends no mail; watch the syslog or the GUI",
    "emailalertfreq": "piranha sends no mail",
    "emailalertstatus": "piranha sends no mail",
    "emailalertfrom": "piranha sends no mail",
    "smtp": "piranha sends no mail",
    "callback": "no callback on configuration changes; use autoreload, or copy lvs.cf with the GUI",
    "execute": "one lvsd serves the whole lvs.cf",
    "fork": "lvsd checks every real server concurrently anyway",
    "supervised": "run `piranha lvsd -n` under a supervisor instead",
    "cleanstop": "lvsd removes its virtual services when it stops",
    "maintenancedir": "drain or force a real server down through lvsd's control socket instead",
    "readdquiescent": "nanny re-adds quiesced servers itself",
    "fallbackcommand": "no command on fallback; sorry_server covers the fallback server",
    "checkcount": "nanny withdraws a server at its first failed check",
    "failurecount": "nanny withdraws a server at its first failed check",
}
_ALSO_IN_VIRTUAL = (
    "emailalert", "emailalertfreq", "emailalertstatus", "smtp", "cleanstop", "fallbackcommand",
    "checkcount", "failurecount",
)  # fmt: skip
IGNORED_VIRTUAL = {
    **{k: IGNORED_GLOBAL[k] for k in _ALSO_IN_VIRTUAL},
    "monitorfile": "check results are in the syslog and lvsd's `health` status",
    "login": "nanny does not log in; only the service's greeting or a send/expect is checked",
    "passwd": "nanny does not log in",
    "database": "nanny does not query databases; use a send_program",
    "secret": "nanny does not speak RADIUS; use a send_program",
    "load": "use load_monitor (uptime, rup, ruptime) instead",
    "ops": "lvs.cf has no one-packet-scheduling key",
}  # fmt: skip

_KEY_VALUE = re.compile(r"^([A-Za-z][\w-]*?)(6)?\s*=\s*(.*?)\s*$")
_REAL = re.compile(
    r"^(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])"
    r"(?:->(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+))?"
    r"(?::(\d+|[A-Za-z0-9_-]+))?\s+(.*)$"
)
_QUOTED = re.compile(r'^"(.*)"$')


@dataclass(frozen=True)
class Note:
    """Something in the ldirectord file that did not carry over as it was."""

    line: int  # 1-based; 0 = the file as a whole
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class Conversion:
    config: Config
    notes: list[Note]


@dataclass
class _Setting:
    value: str
    line: int


@dataclass
class _Section:
    line: int
    target: str  # what followed "virtual="
    settings: dict[str, _Setting] = field(default_factory=dict)
    reals: list[_Setting] = field(default_factory=list)
    fallback: _Setting | None = None


class _Converter:
    def __init__(self, text: str, env: Environment) -> None:
        self.text = text
        self.env = env
        self.notes: list[Note] = []
        self.globals: dict[str, _Setting] = {}
        self.sections: list[_Section] = []
        self.methods: list[tuple[str, int]] = []  # (gate|masq|ipip, line)
        self.devices: dict[str, str] = {}

    def note(self, line: int, message: str) -> None:
        self.notes.append(Note(line, message))

    # --- reading ldirectord.cf ----------------------------------------------------------
    def read(self) -> None:
        section: _Section | None = None
        for number, raw in enumerate(self.text.splitlines(), start=1):
            if section is not None:
                body = raw.replace("\t", "    ")
                if re.match(r"^\s*#", body):
                    continue
                body = body.split("#", 1)[0] if '"' not in body else _strip_comment(body)
                if re.match(r"^ {4,}\S", body):
                    self.section_line(section, body.strip(), number)
                    continue
                section = None
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            if raw[:1].isspace():
                self.note(number, "indented line outside a virtual section; ignored")
                continue
            found = _KEY_VALUE.match(raw)
            if found is None:
                self.note(number, f"not a `key=value` line; ignored: {raw.strip()}")
                continue
            key, six, value = found.group(1).lower(), found.group(2), found.group(3)
            if six:
                self.note(number, f"`{key}6` (IPv6) is not supported by piranha; ignored")
                continue
            if key == "virtual":
                section = _Section(number, value)
                self.sections.append(section)
            else:
                self.globals[key] = _Setting(value, number)

    def section_line(self, section: _Section, body: str, number: int) -> None:
        found = _KEY_VALUE.match(body)
        if found is None:
            self.note(number, f"not a `key=value` line; ignored: {body}")
            return
        key, six, value = found.group(1).lower(), found.group(2), found.group(3)
        if six:
            self.note(number, f"`{key}6` (IPv6) is not supported by piranha; ignored")
        elif key == "real":
            section.reals.append(_Setting(value, number))
        elif key == "fallback":
            section.fallback = _Setting(value, number)
        else:
            section.settings[key] = _Setting(value, number)

    # --- building lvs.cf ------------------------------------------------------------------
    def convert(self) -> Config:
        self.read()
        config = Config(service="lvs")
        self.global_keys(config)
        names: set[str] = set()
        seen: dict[tuple[object, ...], int] = {}
        for section in self.sections:
            virtual = self.virtual(section, names)
            if virtual is None:
                continue
            key = (
                (virtual.fwmark,)
                if virtual.fwmark
                else (virtual.address, virtual.port, virtual.protocol)
            )
            if key in seen:
                self.note(
                    section.line,
                    f"duplicate virtual service (as at line {seen[key]}); section skipped",
                )
                continue
            seen[key] = section.line
            config.virtuals.append(virtual)
        if not self.sections:
            self.note(0, "no virtual= section: the lvs.cf has no virtual services")
        self.choose_network(config)
        return config

    def global_keys(self, config: Config) -> None:
        handled = {"checkinterval", "checktimeout", "negotiatetimeout", "connecttimeout",
                   "quiescent", "fallback", "autoreload"}  # fmt: skip
        for key, s in self.globals.items():
            if key == "autoreload":
                if s.value not in ("yes", "no"):
                    self.note(s.line, f"autoreload must be yes or no, not {s.value!r}; using no")
                config.autoreload = s.value == "yes"
            elif key in IGNORED_GLOBAL:
                self.note(s.line, f"`{key}` has no lvs.cf equivalent: {IGNORED_GLOBAL[key]}")
            elif key in ("connecttimeout", "timeout"):
                self.note(
                    s.line, f"`{key}` is obsolete in ldirectord (use negotiatetimeout); ignored"
                )
            elif key not in handled:
                self.note(s.line, f"unknown ldirectord setting `{key}`; ignored")
        if "quiescent" not in self.globals:
            self.note(
                0,
                "quiescent is not set: ldirectord's default was `yes` in older releases and `no` "
                "in newer ones; the lvs.cf uses quiesce_server = 0 (removal) — set it to 1 for "
                "weight-0 quiescing",
            )

    def setting(self, section: _Section, key: str) -> _Setting | None:
        return section.settings.get(key) or self.globals.get(key)

    def virtual(self, section: _Section, names: set[str]) -> Virtual | None:
        target = section.target
        v = Virtual(name="", active=True)
        fwmark = re.fullmatch(r"\d+", target)
        if fwmark:
            v.fwmark = int(target)
            v.active = False
            v.port = 80
            self.note(
                section.line,
                f"virtual={target} is a firewall-mark service: lvs.cf needs the virtual address "
                "and a health-check port; fill in `address` and `port` (and `fwmark_ports`), then "
                "set active = 1",
            )
            label = f"fwm{target}"
        else:
            found = re.fullmatch(r"([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)", target)
            if found is None:
                self.note(section.line, f"invalid virtual service `{target}`; section skipped")
                return None
            address, port_text = found.groups()
            port = self.port(port_text, section.line, "virtual section")
            if port is None:
                return None
            dotted = inet_aton(address)
            v.address = dotted or address
            v.port = port
            v.device = self.device_for(v.address, section.line)
            label = f"{self.service_name(section, port)}-{v.address}"
        v.name = _unique(label, names)
        self.protocol(v, section)
        self.scheduler(v, section)
        self.persistence(v, section)
        self.quiescence(v, section)
        monitored = self.health_check(v, section)
        for key, s in section.settings.items():
            if key in IGNORED_VIRTUAL:
                self.note(s.line, f"`{key}` has no lvs.cf equivalent: {IGNORED_VIRTUAL[key]}")
            elif key == "connecttimeout":
                self.note(
                    s.line,
                    "`connecttimeout` is obsolete in ldirectord (use negotiatetimeout); ignored",
                )
            elif key not in _SECTION_KEYS:
                self.note(s.line, f"unknown ldirectord setting `{key}`; ignored")
        self.reals(v, section, active=monitored)
        self.fallback(v, section)
        return v

    def port(self, text: str, line: int, skipped: str) -> int | None:
        """A port number or service name; None (noted: `skipped` is dropped) if neither."""
        if text.isdigit():
            port = int(text)
            if 1 <= port <= 65535:
                return port
        else:
            port = self.env.service_port(text)
            if port is not None:
                return port
        self.note(line, f"unknown port `{text}`; {skipped} skipped")
        return None

    def device_for(self, address: str, line: int) -> str:
        if address not in self.devices:
            self.devices[address] = f"eth0:{len(self.devices) + 1}"
            self.note(
                line,
                f"ldirectord left the virtual IP {address} to heartbeat; pulse brings it up on "
                f"device {self.devices[address]} — change `address` to your public interface",
            )
        return self.devices[address]

    def service_name(self, section: _Section, port: int) -> str:
        s = section.settings.get("service")
        return s.value if s else PORT_SERVICES.get(port, "vs")

    def protocol(self, v: Virtual, section: _Section) -> None:
        s = section.settings.get("protocol")
        if v.fwmark:
            if s and s.value != "fwm":
                self.note(s.line, "a firewall-mark service has protocol fwm; ignored")
            return
        default = "udp" if v.port == 53 else "tcp"
        value = s.value if s else default
        if value not in ("tcp", "udp"):
            assert s is not None
            self.note(
                s.line, f"protocol must be tcp or udp for an address:port service; using {default}"
            )
            value = default
        v.protocol = value

    def scheduler(self, v: Virtual, section: _Section) -> None:
        s = section.settings.get("scheduler")
        if s is None:
            v.scheduler = "wrr"  # ldirectord's default (lvs.cf's is wlc)
            return
        name = s.value
        if name in SCHEDULER_TYPOS:
            fixed = SCHEDULER_TYPOS[name]
            self.note(
                s.line,
                f"scheduler `{name}` does not exist (a typo in the ldirectord howto: ipvsadm has "
                f"lblc and lblcr); using {fixed}",
            )
            name = fixed
        elif name not in SCHEDULERS:
            hint = difflib.get_close_matches(name, SCHEDULERS, n=1)
            self.note(
                s.line,
                f"unknown scheduler `{name}`"
                + (f" (did you mean {hint[0]}?)" if hint else "")
                + "; using wrr, ldirectord's default",
            )
            name = "wrr"
        v.scheduler = name

    def persistence(self, v: Virtual, section: _Section) -> None:
        s = section.settings.get("persistent")
        if s is not None:
            if s.value.isdigit():
                v.persistent = int(s.value)
            else:
                self.note(
                    s.line, f"persistent must be a number of seconds, not {s.value!r}; ignored"
                )
        m = section.settings.get("netmask")
        if m is not None:
            dotted = inet_aton(m.value) if re.fullmatch(r"[\d.]+", m.value) else None
            if dotted is None or not _contiguous(dotted):
                self.note(m.line, f"netmask {m.value!r} is not an IPv4 netmask; ignored")
            elif dotted != "255.255.255.255":
                v.pmask = dotted
            if s is None:
                self.note(m.line, "netmask has no effect without persistent")

    def quiescence(self, v: Virtual, section: _Section) -> None:
        s = self.setting(section, "quiescent")
        if s is not None:
            if s.value not in ("yes", "no"):
                self.note(s.line, f"quiescent must be yes or no, not {s.value!r}; using no")
            v.quiesce_server = s.value == "yes"

    # --- the health check ----------------------------------------------------------------------
    def health_check(self, v: Virtual, section: _Section) -> bool:
        """Set the check keys; False when the real servers must stay inactive (checktype=off)."""
        ct = section.settings.get("checktype")
        checktype = ct.value if ct else "negotiate"
        ct_line = ct.line if ct else section.line
        service = (
            self.service_name(section, v.port)
            if not v.fwmark
            else (section.settings["service"].value if "service" in section.settings else "none")
        )
        if re.fullmatch(r"\d+", checktype):
            self.note(
                ct_line,
                f"checktype={checktype} (negotiate every {checktype}th check, connect otherwise) "
                "has no equivalent: every check negotiates",
            )
            checktype = "negotiate"
        kind = "negotiate"
        if checktype in ("connect", "ping") and v.protocol == "udp":
            self.note(
                ct_line,
                f"checktype={checktype} of a UDP service was an ICMP ping in ldirectord; nanny's "
                "UDP probe needs an answer from the service: set `send` and `expect` (or a "
                "send_program)",
            )
            checktype = "udp"
        if checktype == "udp":
            kind = "connect"
        elif checktype == "connect":
            kind = "connect"
            if v.port == 80 and v.protocol == "tcp":
                self.note(
                    ct_line,
                    "checktype=connect on port 80: nanny probes port 80 with `GET / HTTP/1.0` "
                    "and expects `HTTP` when no check is configured, which is stricter than a "
                    "connect",
                )
        elif checktype == "negotiate":
            self.negotiate(v, section, service, ct_line)
        elif checktype in ("external", "external-perl"):
            kind = "connect"
            cmd = section.settings.get("checkcommand")
            command = _unquote(cmd.value) if cmd else "/bin/true"
            where = str(v.fwmark) if v.fwmark else v.address
            v.send_program = f"{command} {where} {v.port} %h %p"
            if checktype == "external-perl":
                self.note(
                    ct_line, "checktype=external-perl runs the script as a program (send_program)"
                )
        elif checktype == "on":
            v.send_program = "/bin/true"
            self.note(ct_line, "checktype=on: send_program = /bin/true keeps every real server up")
        elif checktype == "off":
            self.note(
                ct_line, "checktype=off: no real server is ever activated; the servers are inactive"
            )
            return False
        elif checktype == "ping":
            kind = "connect"
            self.note(
                ct_line,
                "checktype=ping has no equivalent (nanny sends no ICMP); a connect check is used",
            )
        else:
            self.note(ct_line, f"unknown checktype `{checktype}`; a connect check is used")
            kind = "connect"
        self.timing(v, section, kind)
        checkport = section.settings.get("checkport")
        if checkport is not None:
            self.note(
                checkport.line,
                f"checkport={checkport.value}: nanny checks each real server's own port; give the "
                "servers that port, or check with a send_program",
            )
        return True

    def negotiate(self, v: Virtual, section: _Section, service: str, line: int) -> None:
        request_s = section.settings.get("request")
        receive_s = section.settings.get("receive")
        request = _unquote(request_s.value) if request_s else "/"
        receive = _unquote(receive_s.value) if receive_s else ""
        if service in ("http", "https"):
            if request.startswith("http://") or request.startswith("https://"):
                assert request_s is not None
                self.note(
                    request_s.line,
                    "a request URL naming a host is not supported; only its path is requested "
                    "from each real server",
                )
                request = "/" + request.split("://", 1)[1].partition("/")[2]
            if not request.startswith("/"):
                request = "/" + request
            method_s = section.settings.get("httpmethod")
            method = method_s.value.upper() if method_s else "GET"
            if method not in ("GET", "HEAD"):
                assert method_s is not None
                self.note(method_s.line, f"httpmethod must be GET or HEAD, not {method}; using GET")
                method = "GET"
            host_s = section.settings.get("virtualhost")
            host = f"Host: {_unquote(host_s.value)}\\r\\n" if host_s else ""
            v.send = f"{method} {request} HTTP/1.0\\r\\n{host}\\r\\n"
            v.expect = self.regex(receive, receive_s) if receive else HTTP_SUCCESS
            v.use_regex = True
            if service == "https":
                v.check_tls = True
        elif service == "simpletcp":
            v.send = request
            if receive:
                v.expect = self.regex(receive, receive_s)
                v.use_regex = True
        elif service in GREETINGS:
            v.send, v.expect = GREETINGS[service]
            self.note(
                line,
                f"service={service}: nanny checks the server's greeting ({v.expect}); "
                "ldirectord also logged in",
            )
        elif service == "dns":
            name = request.strip("/") or "localhost"
            v.send_program = f"/usr/bin/dig +time=2 +tries=1 @%h {name}"
            self.note(
                line,
                f"service=dns: checked with `dig @server {name}` as a send_program (install "
                "dnsutils on the routers); ldirectord also matched the answer",
            )
        elif service == "none":
            v.send_program = "/bin/true"
            self.note(
                line, "service=none: the servers are not monitored (send_program = /bin/true)"
            )
        else:
            self.note(
                line,
                f"service={service} has no nanny equivalent; a connect check is used — write a "
                "send_program for a real check",
            )
        if receive_s is not None and service not in ("http", "https", "simpletcp"):
            self.note(receive_s.line, f"`receive` is not used by a service={service} check")

    def regex(self, receive: str, setting: _Setting | None) -> str:
        """`receive` as an lvs.cf expect regex; matched literally if it is not one."""
        try:
            re.compile(translate_escapes(receive))
        except re.error as exc:
            self.note(
                setting.line if setting else 0,
                f"receive {receive!r} is not a valid regular expression here ({exc}); it is "
                "matched literally",
            )
            return re.escape(receive)
        return receive

    def timing(self, v: Virtual, section: _Section, kind: str) -> None:
        interval, interval_line = self.interval(section)
        # ldirectord's resolution order (ld_setup): each timeout falls back on the other.
        order = ["negotiatetimeout", "checktimeout"]
        if kind != "negotiate":
            order.reverse()
        candidates = [section.settings.get(k) for k in order] + [self.globals.get(k) for k in order]
        chosen = next((c for c in candidates if c is not None and _positive(c.value)), None)
        default = DEFAULT_NEGOTIATETIMEOUT if kind == "negotiate" else DEFAULT_CHECKTIMEOUT
        limit = _positive(chosen.value) if chosen else None
        limit = limit or default
        v.timeout = interval
        # ldirectord re-adds a server at its first successful check; reentry =
        # the interval does the same (nanny's default would be 180 s).
        v.reentry = interval
        if limit != interval:
            self.note(
                chosen.line if chosen else interval_line or section.line,
                f"checkinterval={interval} with a {limit}-second {kind} timeout becomes "
                f"timeout = {interval}: nanny checks every `timeout` seconds and a check must "
                f"finish within it (a dead server is noticed within {2 * interval} s); raise "
                "`timeout` if your servers need longer to answer",
            )

    def interval(self, section: _Section) -> tuple[int, int]:
        """checkinterval and its line: the global one, or the section's with fork = yes."""
        own = section.settings.get("checkinterval")
        forking = self.globals.get("fork")
        if own is not None and (forking is None or forking.value != "yes"):
            self.note(own.line, "checkinterval in a virtual section is ignored unless fork = yes")
            own = None
        chosen = own or self.globals.get("checkinterval")
        if chosen is None:
            return DEFAULT_INTERVAL, 0
        value = _positive(chosen.value)
        if value is None:
            self.note(
                chosen.line, f"checkinterval {chosen.value!r} is not a number of seconds; using 10"
            )
            return DEFAULT_INTERVAL, chosen.line
        return value, chosen.line

    # --- real servers and the fallback ------------------------------------------------------------
    def reals(self, v: Virtual, section: _Section, active: bool) -> None:
        count = 0
        seen: dict[tuple[str, int], int] = {}
        for s in section.reals:
            found = _REAL.match(s.value)
            if found is None:
                self.note(s.line, f"invalid real server `{s.value}`; ignored")
                continue
            first, last, port_text, flags = found.groups()
            port: int | None = None
            if port_text is not None:
                port = self.port(port_text, s.line, "real server") if port_text != "0" else 0
                if port is None:
                    continue
            parts = flags.split(None, 1)
            method = parts[0] if parts else ""
            rest = parts[1] if len(parts) > 1 else ""
            if method not in METHODS:
                self.note(
                    s.line, f"forwarding method must be gate, masq or ipip, not {method!r}; ignored"
                )
                continue
            self.methods.append((method, s.line))
            weight = 1
            found_w = re.match(r"(\d+)\s*(.*)$", rest)
            if found_w:
                weight, rest = int(found_w.group(1)), found_w.group(2)
            if rest.strip():
                self.note(
                    s.line,
                    "a per-real-server request/receive has no lvs.cf equivalent: the virtual's "
                    "check applies to every real server",
                )
            addresses = self.address_range(first, last, s.line)
            for address in addresses:
                ident = (address, port or v.port)
                if ident in seen:
                    self.note(
                        s.line,
                        f"real server {address} is already listed at line {seen[ident]}; skipped",
                    )
                    continue
                seen[ident] = s.line
                count += 1
                server = Server(name=f"real{count}", address=address, active=active, weight=weight)
                if port and port != v.port and not v.fwmark:
                    server.port = port
                    if method != "masq":
                        self.note(
                            s.line,
                            f"port {port} differs from the virtual port {v.port}: only NAT (masq) "
                            "can map ports; IPVS uses the virtual port with gate/ipip",
                        )
                if weight > 65535:
                    self.note(s.line, f"weight {weight} is above 65535; using 65535")
                    server.weight = 65535
                v.servers.append(server)
        if not section.reals:
            self.note(section.line, "virtual service without real= lines")

    def address_range(self, first: str, last: str | None, line: int) -> list[str]:
        a = inet_aton(first) or first
        if last is None:
            return [a]
        b = inet_aton(last)
        if inet_aton(first) is None or b is None or ip_to_int(a) > ip_to_int(b):
            self.note(line, f"invalid address range {first}->{last}; ignored")
            return []
        lo, hi = ip_to_int(a), ip_to_int(b)
        if hi - lo >= 1024:
            self.note(line, f"address range {first}->{last} is larger than 1024 servers; ignored")
            return []
        return [".".join(str(n >> s & 0xFF) for s in (24, 16, 8, 0)) for n in range(lo, hi + 1)]

    def fallback(self, v: Virtual, section: _Section) -> None:
        s = section.fallback or self.globals.get("fallback")
        if s is None:
            return
        parts = s.value.split()
        target = parts[0] if parts else ""
        method = parts[1] if len(parts) > 1 else "gate"
        host, _, port_text = target.partition(":")
        address = inet_aton(host)
        if address is None:
            self.note(
                s.line,
                f"fallback {host!r} is not an IPv4 address (sorry_server needs one); ignored",
            )
            return
        v.sorry_server = address
        if port_text and port_text.isdigit() and int(port_text) != v.port:
            self.note(
                s.line,
                f"fallback port {port_text}: the sorry server is reached on the virtual port {v.port}",
            )
        if method in METHODS:
            self.methods.append((method, s.line))
        else:
            self.note(s.line, f"fallback forwarding method {method!r} is not gate, masq or ipip")

    def choose_network(self, config: Config) -> None:
        if not self.methods:
            config.network = "direct"
            return
        counts = Counter(m for m, _ in self.methods)
        method = max(counts, key=lambda m: (counts[m], -[x for x, _ in self.methods].index(m)))
        config.network = METHODS[method]
        for other, line in self.methods:
            if other != method:
                self.note(
                    line,
                    f"{other} ({METHODS[other]}) conflicts with the other real servers' {method}: "
                    f"lvs.cf has one forwarding method for all virtual services (network = "
                    f"{METHODS[method]})",
                )


_SECTION_KEYS = {
    "checktype", "checkcommand", "checktimeout", "negotiatetimeout", "checkinterval",
    "checkport", "request", "receive", "scheduler", "persistent", "netmask", "protocol",
    "service", "httpmethod", "virtualhost", "quiescent",
}  # fmt: skip


def _strip_comment(body: str) -> str:
    """Drop a trailing ``# comment`` that is not inside double quotes."""
    out, quoted = [], False
    for ch in body:
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            break
        out.append(ch)
    return "".join(out)


def _unquote(value: str) -> str:
    found = _QUOTED.match(value)
    return found.group(1) if found else value


def _positive(text: str) -> int | None:
    found = re.match(r"\d+", text)
    value = int(found.group(0)) if found else 0
    return value if value > 0 else None


def _contiguous(dotted: str) -> bool:
    value = ip_to_int(dotted)
    inverted = ~value & 0xFFFFFFFF
    return inverted & (inverted + 1) == 0


def _unique(name: str, names: set[str]) -> str:
    candidate, n = name, 1
    while candidate in names:
        n += 1
        candidate = f"{name}-{n}"
    names.add(candidate)
    return candidate


def convert(text: str, environment: Environment | None = None) -> Conversion:
    """Convert ldirectord.cf text; the notes say what did not carry over, by line."""
    converter = _Converter(text, environment or Environment())
    config = converter.convert()
    notes = sorted(converter.notes, key=lambda n: (n.line == 0, n.line))
    return Conversion(config, notes)
