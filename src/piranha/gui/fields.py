"""The fields of every panel: what each holds, how it is read, and which lvs.cf key it edits.

A form (strings) or an API request (JSON values) is read field by field into
model values; a field that cannot be read gets its own message.  Then the
edited Config goes through the same checks as ``piranha check``, and each
diagnostic is shown next to the field of its key (`FieldSpec.keys`).

The text rules here are stricter than lvs.cf's on purpose: nothing typed
into the tool can put a line break, a control character or a quote into a
value that a daemon later runs (send_program, active_cmd, start_cmd...),
because lvs.cf has no escapes and those values are split on blanks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from piranha.config import SCHEDULERS
from piranha.config.values import describe_char, forbidden_char, inet_aton, is_hostname

# The netmask drop-down of the original (GLOBAL SETTINGS and VIRTUAL SERVER), plus /23.
MASKS: tuple[str, ...] = (
    "255.255.255.255", "255.255.255.252", "255.255.255.248", "255.255.255.240",
    "255.255.255.224", "255.255.255.192", "255.255.255.128", "255.255.255.0",
    "255.255.254.0", "255.255.252.0", "255.255.248.0", "255.255.240.0",
    "255.255.224.0", "255.255.192.0", "255.255.128.0", "255.255.0.0",
)  # fmt: skip

# Drop-down labels of the original, then the schedulers it did not offer.
SCHEDULER_LABELS: dict[str, str] = {
    "rr": "Round robin",
    "wlc": "Weighted least-connections",
    "wrr": "Weighted round robin",
    "lc": "Least-connection",
    "lblc": "Locality-Based Least-Connection Scheduling",
    "lblcr": "Locality-Based Least-Connection Scheduling (R)",
    "dh": "Destination Hash Scheduling",
    "sh": "Source Hash Scheduling",
    "sed": "Shortest Expected Delay",
    "nq": "Never Queue",
    "fo": "Weighted Failover",
    "ovf": "Weighted Overflow",
    "twos": "Weighted Random Twos Choice",
    "mh": "Maglev Hashing",
}
assert set(SCHEDULER_LABELS) == set(SCHEDULERS)

LOAD_MONITORS = ("none", "uptime", "rup", "ruptime")

_DEVICE = re.compile(r"[A-Za-z0-9_.:@-]{1,15}\Z")
_NAME_FORBIDDEN = set("\"'\\{}=#`")
_COMMAND_FORBIDDEN = set("\"'\\`")


class FieldError(ValueError):
    """A value that cannot be read; the message is shown next to its field."""


@dataclass(frozen=True)
class FieldSpec:
    name: str  # form field name = model attribute
    label: str  # as the panel shows it (the guide's wording)
    kind: str  # text|name|device|command|probe|path|int|port|ip|host|mask|choice|bool
    optional: bool = False  # a blank value means "unset" (None, or `blank` below)
    blank: Any = None  # the model value for a blank optional field
    choices: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()  # lvs.cf keys whose diagnostics belong to this field
    help: str = ""
    maxlength: int = 255

    @property
    def diagnostic_keys(self) -> tuple[str, ...]:
        return self.keys or (self.name,)


# --- reading one value -----------------------------------------------------------------
def _printable(spec: FieldSpec, text: str, ascii_only: bool = False) -> str:
    bad = forbidden_char(text)
    if bad is not None:
        raise FieldError(f"{describe_char(bad)} is not allowed here")
    if ascii_only and any(not (" " <= c <= "~") for c in text):
        raise FieldError(
            "only printable ASCII characters are allowed (use \\n, \\r, \\t for control characters)"
        )
    if len(text) > spec.maxlength:
        raise FieldError(f"at most {spec.maxlength} characters")
    return text


def _int(text: str) -> int:
    t = text.strip()
    if not re.fullmatch(r"-?[0-9]{1,10}", t):
        raise FieldError(f"`{text}` is not a whole number")
    return int(t)


def read_text_value(
    spec: FieldSpec, text: str, service_port: Callable[[str], int | None] | None = None
) -> Any:
    """The model value of `text` typed into `spec`'s field.  Raises FieldError."""
    kind = spec.kind
    if kind == "bool":
        return text.strip().lower() in ("1", "on", "yes", "true")
    stripped = text.strip()
    if stripped == "" and kind not in ("probe",):
        if spec.optional:
            return spec.blank
        raise FieldError("a value is required")
    if kind == "probe":
        if text == "":
            if spec.optional:
                return spec.blank
            raise FieldError("a value is required")
        return _printable(spec, text, ascii_only=True)
    if kind == "int":
        return _int(stripped)
    if kind == "port":
        if re.fullmatch(r"[0-9]+", stripped):
            return int(stripped)
        port = (
            service_port(stripped)
            if service_port and re.fullmatch(r"[A-Za-z0-9_-]+", stripped)
            else None
        )
        if port is None:
            raise FieldError(f"`{text}` is neither a port number nor a known service name")
        return port
    if kind in ("ip", "mask"):
        if inet_aton(stripped) != stripped:
            what = (
                "a netmask (e.g. 255.255.255.0)"
                if kind == "mask"
                else "an IPv4 address (e.g. 192.168.1.100)"
            )
            raise FieldError(f"`{text}` is not {what}")
        return stripped
    if kind == "host":
        if inet_aton(stripped) == stripped or is_hostname(stripped):
            return stripped
        raise FieldError(f"`{text}` is neither an IPv4 address nor a host name")
    if kind == "choice":
        if stripped not in spec.choices:
            raise FieldError(f"choose one of: {', '.join(spec.choices)}")
        return stripped
    if kind == "name":
        name = _printable(spec, stripped).replace(" ", "_")  # as the original did
        bad = sorted(set(name) & _NAME_FORBIDDEN)
        if bad:
            raise FieldError(f"a name cannot contain {' '.join(bad)}")
        return name
    if kind == "device":
        if not _DEVICE.match(stripped):
            raise FieldError(
                f"`{text}` is not a device name (1-15 letters, digits and . _ : - such as eth0:1)"
            )
        return stripped
    if kind == "command":
        command = _printable(spec, stripped, ascii_only=True)
        bad = sorted(set(command) & _COMMAND_FORBIDDEN)
        if bad:
            raise FieldError(
                f"{' '.join(bad)} cannot be used: commands are split on blanks and run without a "
                "shell, so quotes and backslashes would not quote anything"
            )
        return command
    if kind == "path":
        path = _printable(spec, stripped, ascii_only=True)
        if not path.startswith("/") or " " in path or set(path) & _COMMAND_FORBIDDEN:
            raise FieldError(
                "an absolute path without blanks or quotes, e.g. /etc/sysconfig/ha/heartbeat.key"
            )
        return path
    return _printable(spec, stripped)


def read_json_value(
    spec: FieldSpec, value: Any, service_port: Callable[[str], int | None] | None = None
) -> Any:
    """As read_text_value, for a JSON value of the API (null = blank)."""
    if value is None:
        if spec.kind == "bool":
            return False
        if spec.optional:
            return spec.blank
        raise FieldError("a value is required")
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        raise FieldError("must be true or false")
    numeric = spec.kind in ("int", "port")
    if numeric and isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise FieldError("must be a number" if numeric else "must be a string")
    return read_text_value(spec, value, service_port)


def read_form(
    specs: list[FieldSpec],
    form: Mapping[str, str],
    service_port: Callable[[str], int | None] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Read the submitted `form` for `specs`: (values, {field: message}).

    A field missing from the form is skipped (not edited) unless it is a
    checkbox, whose absence means unchecked.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        if spec.name not in form and spec.kind != "bool":
            continue
        try:
            values[spec.name] = read_text_value(spec, form.get(spec.name, ""), service_port)
        except FieldError as exc:
            errors[spec.name] = str(exc)
    return values, errors


def read_json(
    specs: list[FieldSpec],
    data: Mapping[str, Any],
    service_port: Callable[[str], int | None] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Read an API request: only the fields present are edited; unknown names are errors."""
    by_name = {s.name: s for s in specs}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, raw in data.items():
        spec = by_name.get(name)
        if spec is None:
            errors[name] = f"unknown field (known: {', '.join(by_name)})"
            continue
        try:
            values[name] = read_json_value(spec, raw, service_port)
        except FieldError as exc:
            errors[name] = str(exc)
    return values, errors


def form_value(spec: FieldSpec, value: Any) -> str:
    """A model value as its form field shows it."""
    if value is None:
        return ""
    if spec.kind == "bool":
        return "1" if value else ""
    return str(value)


# --- the panels' fields -----------------------------------------------------------------
F = FieldSpec

GLOBAL_FIELDS: list[FieldSpec] = [
    F("primary", "Primary server public IP", "host"),
    F("primary_private", "Primary server private IP (May be blank)", "host", optional=True),
    F("service", "Service type", "choice", choices=("lvs", "fos"),
      help="lvs: virtual servers (load balancing); fos: failover services"),
    F("rsh_command", "Sync tool (rsh_command)", "command", choices=("rsh", "ssh"),
      help="how SYNC TO BACKUP copies lvs.cf, and how the uptime load monitor reaches real servers"),
    F("tcp_timeout", "TCP timeout (seconds)", "int", optional=True, blank=0),
    F("tcpfin_timeout", "TCP FIN timeout (seconds)", "int", optional=True, blank=0),
    F("udp_timeout", "UDP timeout (seconds)", "int", optional=True, blank=0),
    F("network", "Use network type", "choice", choices=("nat", "direct", "tunnel")),
    F("nat_router", "NAT Router IP", "ip", optional=True),
    F("nat_nmask", "NAT Router netmask", "mask", optional=True),
    F("nat_router_device", "NAT Router device", "device", optional=True),
    F("dataplane", "Data plane", "choice", choices=("auto", "ipvs", "nftables", "userspace"),
      help="auto picks kernel IPVS, then nftables, then the userspace proxy"),
]  # fmt: skip

REDUNDANCY_FIELDS: list[FieldSpec] = [
    F("backup", "Redundant server public IP", "host"),
    F("backup_private", "Redundant server private IP", "host", optional=True),
    F("keepalive", "Heartbeat interval (seconds)", "int"),
    F("deadtime", "Assume dead after (seconds)", "int"),
    F("heartbeat_port", "Heartbeat runs on port", "port"),
    F("monitor_links", "Monitor NIC links for failures", "bool"),
    F("syncdaemon", "Use sync daemon", "bool"),
    F("syncd_iface", "Sync daemon interface", "device"),
    F("syncd_id", "Sync daemon ID", "int"),
    F("heartbeat_key_file", "Heartbeat key file (authenticated heartbeats; may be blank)", "path", optional=True),
]  # fmt: skip

VIRTUAL_FIELDS: list[FieldSpec] = [
    F("name", "Name", "name", keys=("{",)),
    F("port", "Application port", "port"),
    F("protocol", "Protocol", "choice", choices=("tcp", "udp")),
    F("address", "Virtual IP Address", "ip"),
    F("vip_nmask", "Virtual IP Network Mask", "mask", optional=True),
    F("sorry_server", "Sorry Server", "ip", optional=True),
    F("fwmark", "Firewall Mark", "int", optional=True, blank=0),
    F("device", "Device", "device"),
    F("reentry", "Re-entry Time", "int"),
    F("timeout", "Service Timeout", "int"),
    F("quiesce_server", "Quiesce server", "bool"),
    F("load_monitor", "Load monitoring tool", "command", optional=True),
    F("scheduler", "Scheduling", "choice", choices=SCHEDULERS),
    F("persistent", "Persistence", "int", optional=True, blank=0),
    F("pmask", "Persistence Network Mask", "mask", optional=True),
    F("fwmark_ports", "Firewall mark ports (e.g. 80,443)", "text", optional=True),
    F("sched_flags", "Scheduler flags (e.g. sh-port)", "text", optional=True),
    F("proxy_protocol", "Send PROXY protocol v2 header", "bool"),
]  # fmt: skip

SERVER_FIELDS: list[FieldSpec] = [
    F("name", "Name", "name", keys=("{",)),
    F("address", "Address", "host"),
    F("port", "Port (blank: the virtual server's port)", "port", optional=True),
    F("weight", "Weight", "int"),
    F("uthreshold", "Upper connection threshold (0 = none)", "int", optional=True, blank=0),
    F("lthreshold", "Lower connection threshold (0 = none)", "int", optional=True, blank=0),
]  # fmt: skip

SCRIPT_FIELDS: list[FieldSpec] = [
    F("send_program", "Sending Program", "command", optional=True),
    F("send", "Send", "probe", optional=True),
    F("expect", "Expect", "probe", optional=True),
    F("use_regex", "Treat expect string as a regular expression", "bool"),
    F("check_tls", "Run send/expect over TLS", "bool"),
]  # fmt: skip

FAILOVER_FIELDS: list[FieldSpec] = [
    F("name", "Name", "name", keys=("{",)),
    F("address", "Service IP Address", "ip"),
    F("device", "Device", "device"),
    F("vip_nmask", "Service IP Network Mask", "mask", optional=True),
    F("port", "Port", "port"),
    F("protocol", "Protocol", "choice", choices=("tcp", "udp")),
    F("timeout", "Service Timeout", "int"),
    F("send_program", "Sending Program", "command", optional=True),
    F("send", "Send", "probe", optional=True),
    F("expect", "Expect", "probe", optional=True),
    F("use_regex", "Treat expect string as a regular expression", "bool"),
    F("start_cmd", "Start command", "command", optional=True),
    F("stop_cmd", "Stop command", "command", optional=True),
]  # fmt: skip

PANEL_FIELDS: dict[str, list[FieldSpec]] = {
    "global": GLOBAL_FIELDS,
    "redundancy": REDUNDANCY_FIELDS,
    "virtual": VIRTUAL_FIELDS,
    "server": SERVER_FIELDS,
    "scripts": SCRIPT_FIELDS,
    "failover": FAILOVER_FIELDS,
}


def spec_named(specs: list[FieldSpec], name: str) -> FieldSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise KeyError(name)
