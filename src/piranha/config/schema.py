"""Every lvs.cf keyword, in one table.

Adding a keyword is one `KeySpec` line here (the model, the reader, the
writer and the checks all follow this table) plus one line in
docs/lvs.cf.md (a test insists).  The order of each section is the order
the original Configuration Tool wrote the keys in (parse.php
``write_config``); keys the GUI never wrote follow, then our extensions.
"""

from __future__ import annotations

from dataclasses import dataclass

INT_MAX = 2**31 - 1  # the original kept numbers in C ints
MAX_TIMEOUT = 86400 * 31  # ipvsadm's limit for persistence and --set timeouts

# Every IPVS scheduler.  The original accepted the first eight.
SCHEDULERS: tuple[str, ...] = (
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh",
    "sed", "nq", "fo", "ovf", "twos", "mh",
)  # fmt: skip
ORIGINAL_SCHEDULERS = SCHEDULERS[:8]

# Scheduler flags (ipvsadm -b): flag-N is generic, the named ones belong to
# one scheduler.
SCHED_FLAGS: dict[str, str | None] = {
    "sh-fallback": "sh",
    "sh-port": "sh",
    "mh-fallback": "mh",
    "mh-port": "mh",
    "flag-1": None,
    "flag-2": None,
    "flag-3": None,
}

GLOBAL, VIRTUAL, SERVER, FAILOVER = "global", "virtual", "server", "failover"
SECTIONS = (GLOBAL, VIRTUAL, SERVER, FAILOVER)

# Value types.  The reader turns the token(s) into the model value:
#   int     C strtol base 0 (010 is octal 8, 0x10 is 16, -5 accepted)  -> int
#   bool    an int that is 0 or 1                                      -> bool
#   port    an int, or a tcp service name from /etc/services            -> int
#   seconds an int as above, or a decimal such as 0.5 (3 decimals at most) -> int | float
#   host    IPv4 (inet_aton forms, normalised) or a host name as written -> str
#   ip      IPv4 only (inet_aton forms, normalised)                     -> str
#   mask    IPv4 netmask (inet_aton forms, normalised)                  -> str
#   string  one token, quotes removed                                   -> str
#   choice  a string from `choices`                                     -> str
#   hostdev two values, IP and DEVICE; the device goes to `device_field` -> str
#   list    `[ a b ... ]` on one line                                   -> list[str]
TYPES = (
    "int",
    "bool",
    "port",
    "seconds",
    "host",
    "ip",
    "mask",
    "string",
    "choice",
    "hostdev",
    "list",
)


@dataclass(frozen=True)
class KeySpec:
    section: str
    key: str
    type: str
    default: object
    meaning: str
    used_by: str = ""
    extension: bool = False
    # Parsed and kept (so edits keep it) but nothing acts on it: a warning says so.
    unused: bool = False
    # dumps() writes it even at its default value, as the GUI did; a key name
    # instead of True means "only while that bool key is true".
    always: bool | str = False
    choices: tuple[str, ...] = ()
    range: tuple[int, int] | None = None
    # The GUI wrapped these in double quotes whatever their content.
    gui_quoted: bool = False
    # For hostdev: the model field that receives DEVICE.
    device_field: str | None = None
    # The default is derived from another key (None means "take that one").
    derived_from: str | None = None


K = KeySpec
_PORT = (1, 65535)
_U16 = (0, 65535)
_POS = (1, INT_MAX)
_NONNEG = (0, INT_MAX)
_HEARTBEAT = (0.01, INT_MAX)  # seconds; 10 ms is VRRPv3's finest advertisement interval

SCHEMA: tuple[KeySpec, ...] = (
    # --- global, in the GUI's order -------------------------------------
    K(GLOBAL, "serial_no", "int", 0, "revision counter; the Configuration Tool raises it on every save", "gui", always=True, range=_NONNEG),
    K(GLOBAL, "primary", "host", "0.0.0.0", "public address of the primary router; the router owning it starts as primary", "pulse"),
    K(GLOBAL, "primary_private", "host", None, "primary's address on the second heartbeat path (default: primary)", "pulse", derived_from="primary"),
    K(GLOBAL, "primary_shared", "string", None, "shared-SCSI device of the primary (failover services)", "pulse (fos)"),
    K(GLOBAL, "service", "choice", "lvs", "which blocks run: lvs = virtual servers, fos = failover services", "pulse", always=True, choices=("lvs", "fos")),
    K(GLOBAL, "rsh_command", "string", "rsh", "remote shell for `load_monitor = uptime` (rsh or ssh)", "nanny", always=True),
    K(GLOBAL, "backup_active", "bool", False, "1 = a backup router exists and the routers exchange heartbeats", "pulse", always=True),
    K(GLOBAL, "backup", "host", "0.0.0.0", "public address of the backup router", "pulse"),
    K(GLOBAL, "backup_private", "host", None, "backup's address on the second heartbeat path (default: backup)", "pulse", derived_from="backup"),
    K(GLOBAL, "backup_shared", "string", None, "shared-SCSI device of the backup (failover services)", "pulse (fos)"),
    K(GLOBAL, "heartbeat", "bool", None, "no effect: heartbeats follow `backup_active` (the GUI always wrote 1)", unused=True),
    K(GLOBAL, "heartbeat_port", "port", 539, "UDP port of the heartbeat", "pulse", always=True, range=_PORT),
    K(GLOBAL, "keepalive", "seconds", 2, "seconds between heartbeats (decimals allowed, e.g. 0.1)", "pulse", always=True, range=_HEARTBEAT),
    K(GLOBAL, "deadtime", "seconds", 5, "seconds of silence before the partner router is declared dead (decimals allowed, e.g. 0.3)", "pulse", always=True, range=_HEARTBEAT),
    K(GLOBAL, "network", "choice", "nat", "forwarding to real servers: nat (-m), direct routing (-g) or tunnel (-i)", "lvsd", always=True, choices=("nat", "direct", "tunnel")),
    K(GLOBAL, "nat_router", "hostdev", None, "floating gateway address and device of the real servers, e.g. `10.0.0.254 eth1:1` (network = nat)", "pulse", device_field="nat_router_device"),
    K(GLOBAL, "nat_nmask", "mask", None, "netmask of nat_router", "pulse"),
    K(GLOBAL, "reservation_conflict_action", "choice", None, "shared-SCSI reservation conflict: nothing or preempt (failover services)", "pulse (fos)", choices=("nothing", "preempt")),
    K(GLOBAL, "debug_level", "string", None, "no effect (the GUI wrote NONE)", unused=True),
    K(GLOBAL, "active_cmd", "string", None, "command run whenever this router becomes active (no shell; absolute path)", "pulse"),
    K(GLOBAL, "inactive_cmd", "string", None, "command run at start-up and whenever this router becomes inactive", "pulse"),
    K(GLOBAL, "monitor_links", "int", 0, "non-zero: watch the link state of the heartbeat interfaces", "pulse", always=True, range=_NONNEG),
    K(GLOBAL, "syncdaemon", "bool", False, "run the IPVS connection-synchronisation daemon", "lvsd", always=True),
    K(GLOBAL, "syncd_iface", "string", "eth0", "multicast interface of the sync daemon", "lvsd", always="syncdaemon"),
    K(GLOBAL, "syncd_id", "int", 0, "sync daemon id (0-255)", "lvsd", always="syncdaemon", range=(0, 255)),
    K(GLOBAL, "tcp_timeout", "int", 0, "IPVS TCP timeout in seconds (0 = leave the kernel's)", "lvsd", range=(0, MAX_TIMEOUT)),
    K(GLOBAL, "tcpfin_timeout", "int", 0, "IPVS TCP FIN timeout in seconds (0 = leave the kernel's)", "lvsd", range=(0, MAX_TIMEOUT)),
    K(GLOBAL, "udp_timeout", "int", 0, "IPVS UDP timeout in seconds (0 = leave the kernel's)", "lvsd", range=(0, MAX_TIMEOUT)),
    # --- global keys the GUI never wrote ---------------------------------
    K(GLOBAL, "hard_shutdown", "bool", True, "1: a dying health checker stops lvsd (and so fails over); 0: only log it", "lvsd"),
    K(GLOBAL, "ipvsadm", "string", "/sbin/ipvsadm", "path of ipvsadm", "lvsd"),
    K(GLOBAL, "sync", "bool", None, "no effect", unused=True),
    # --- global extensions -----------------------------------------------
    K(GLOBAL, "dataplane", "choice", "auto", "data plane: auto picks ipvs, then nftables, then userspace", "lvsd", extension=True, choices=("auto", "userspace", "nftables", "ipvs")),
    K(GLOBAL, "heartbeat_key_file", "string", None, "file holding a shared key that authenticates heartbeats (unset: unauthenticated, as the original)", "pulse", extension=True),
    K(GLOBAL, "expire_quiescent_template", "bool", False, "expire persistence templates of quiesced (weight 0) servers (the kernel sysctl)", "lvsd", extension=True),
    K(GLOBAL, "expire_nodest_conn", "bool", False, "expire connections to removed real servers at once (the kernel sysctl)", "lvsd", extension=True),
    K(GLOBAL, "autoreload", "bool", False, "reload lvsd whenever lvs.cf changes", "lvsd", extension=True),
    K(GLOBAL, "failback", "bool", True, "1: a returning primary takes the service back from the backup (after failback_delay); 0: the service stays on the backup, as in pulse 0.8.6", "pulse", extension=True),
    K(GLOBAL, "failback_delay", "seconds", 30, "seconds a returning primary must hear the backup serving, with no failure of its own, before it takes the service back (hold-down against a flapping primary)", "pulse", extension=True, range=(0, INT_MAX)),
    K(GLOBAL, "warm_standby", "bool", True, "1: the inactive router runs `lvsd --standby` (health checks, no data plane), so a takeover starts nothing and knows which real servers are up", "pulse", extension=True),
    K(GLOBAL, "garp_count", "int", 5, "gratuitous ARPs (request and reply) sent for each address on a takeover", "pulse", extension=True, range=(1, 1000)),
    K(GLOBAL, "garp_interval", "seconds", 1, "seconds between those gratuitous ARPs", "pulse", extension=True, range=(0.01, 3600)),
    # --- virtual NAME { ... } -----------------------------------------------
    K(VIRTUAL, "active", "bool", False, "the service is set up only when 1", "lvsd", always=True),
    K(VIRTUAL, "address", "hostdev", "0.0.0.0", "virtual IP and the device pulse puts it on, e.g. `192.168.1.100 eth0:1`", "pulse, lvsd", always=True, device_field="device"),
    K(VIRTUAL, "sorry_server", "ip", None, "IPv4 address that takes the traffic while no real server is up", "lvsd"),
    K(VIRTUAL, "vip_nmask", "mask", None, "netmask of the virtual IP", "pulse"),
    K(VIRTUAL, "fwmark", "int", 0, "non-zero: the service is this firewall mark, not protocol+address+port", "lvsd", range=(0, 2**32 - 1)),
    K(VIRTUAL, "port", "port", 80, "virtual port; the default port of the real servers and of the health check", "lvsd, nanny", always=True, range=_PORT),
    K(VIRTUAL, "persistent", "int", 0, "seconds a client sticks to its real server (0 = off)", "lvsd", range=(0, MAX_TIMEOUT)),
    K(VIRTUAL, "pmask", "mask", None, "netmask grouping clients for persistence (255.255.255.255 = none)", "lvsd"),
    K(VIRTUAL, "send", "string", None, "string the health check sends (\\n \\r \\t \\\\ \\' \\\" are translated)", "nanny", gui_quoted=True),
    K(VIRTUAL, "expect", "string", None, "reply the health check expects (prefix, or a regex with use_regex)", "nanny", gui_quoted=True),
    K(VIRTUAL, "use_regex", "bool", False, "expect is a POSIX extended regular expression", "nanny", always=True),
    K(VIRTUAL, "send_program", "string", None, "external check command; %h = real server, %p = port", "nanny", gui_quoted=True),
    K(VIRTUAL, "expect_program", "string", None, "no effect (written by the GUI, never read by the daemons)", unused=True, gui_quoted=True),
    K(VIRTUAL, "load_monitor", "string", None, "load monitor: uptime (through rsh_command), rup, ruptime, none, or a command", "nanny"),
    K(VIRTUAL, "scheduler", "choice", "wlc", "scheduling algorithm: " + " ".join(SCHEDULERS), "lvsd", always=True, choices=SCHEDULERS),
    K(VIRTUAL, "deadtime", "int", None, "no effect inside a virtual block (written by the GUI)", unused=True),
    K(VIRTUAL, "protocol", "choice", "tcp", "tcp or udp", "lvsd, nanny", always=True, choices=("tcp", "udp")),
    K(VIRTUAL, "timeout", "int", 10, "seconds between health checks, and the check's I/O timeout", "nanny", always=True, range=_POS),
    K(VIRTUAL, "reentry", "int", 180, "seconds a failed real server must pass checks before it is re-added", "nanny", always=True, range=_POS),
    K(VIRTUAL, "quiesce_server", "bool", False, "1: a failed real server gets weight 0 instead of being removed", "nanny", always=True),
    # --- virtual keys the GUI never wrote -----------------------------------
    K(VIRTUAL, "client_monitor", "string", None, "health-check program to run instead of the built-in nanny", "lvsd"),
    K(VIRTUAL, "start_cmd", "string", None, "no effect inside a virtual block (failover services only)", unused=True, gui_quoted=True),
    K(VIRTUAL, "stop_cmd", "string", None, "no effect inside a virtual block (failover services only)", unused=True, gui_quoted=True),
    K(VIRTUAL, "master", "host", None, "no effect", unused=True),
    K(VIRTUAL, "dirs", "list", None, "no effect", unused=True),
    # --- virtual extensions ------------------------------------------------
    K(VIRTUAL, "fwmark_ports", "string", None, "ports a fwmark service groups, e.g. `21,10000-20000` (userspace and nftables data planes)", "lvsd", extension=True),
    K(VIRTUAL, "proxy_protocol", "bool", False, "send a PROXY protocol v2 header to the real servers (userspace data plane)", "lvsd", extension=True),
    K(VIRTUAL, "sched_flags", "string", None, "scheduler flags, comma-separated: " + ", ".join(SCHED_FLAGS), "lvsd", extension=True),
    K(VIRTUAL, "check_tls", "bool", False, "the health check's send/expect run over TLS", "nanny", extension=True),
    # --- server NAME { ... } -------------------------------------------------
    K(SERVER, "address", "host", "0.0.0.0", "real server address", "lvsd, nanny", always=True),
    K(SERVER, "nmask", "mask", None, "no effect (written by the GUI)", unused=True),
    K(SERVER, "active", "bool", False, "the real server is used (and checked) only when 1", "lvsd", always=True),
    K(SERVER, "port", "port", None, "real server port (default: the virtual's port)", "lvsd, nanny", range=_PORT, derived_from="port"),
    K(SERVER, "weight", "int", 1, "relative capacity, 0-65535", "lvsd", always=True, range=_U16),
    K(SERVER, "uthreshold", "int", 0, "connection limit; above it the server takes no new connections (0 = none)", "lvsd", extension=True, range=_U16),
    K(SERVER, "lthreshold", "int", 0, "the server takes new connections again below this (0 = none)", "lvsd", extension=True, range=_U16),
    # --- failover NAME { ... } (failover services, service = fos) -----------
    K(FAILOVER, "address", "hostdev", "0.0.0.0", "service address and device, e.g. `192.168.1.50 eth0:2`", "pulse", always=True, device_field="device"),
    K(FAILOVER, "vip_nmask", "mask", None, "netmask of the service address", "pulse"),
    K(FAILOVER, "active", "bool", False, "the service is run only when 1", "pulse", always=True),
    K(FAILOVER, "port", "port", 80, "port the health check probes", "nanny", always=True, range=_PORT),
    K(FAILOVER, "timeout", "int", 10, "seconds between health checks", "nanny", always=True, range=_POS),
    K(FAILOVER, "heartbeat", "bool", None, "no effect (written by the GUI)", unused=True),
    K(FAILOVER, "send", "string", None, "string the health check sends", "nanny", gui_quoted=True),
    K(FAILOVER, "expect", "string", None, "reply the health check expects", "nanny", gui_quoted=True),
    K(FAILOVER, "send_program", "string", None, "external check command; %h = address, %p = port", "nanny", gui_quoted=True),
    K(FAILOVER, "expect_program", "string", None, "no effect (written by the GUI)", unused=True, gui_quoted=True),
    K(FAILOVER, "start_cmd", "string", None, "command that starts the service (no shell; absolute path)", "pulse", gui_quoted=True),
    K(FAILOVER, "stop_cmd", "string", None, "command that stops the service (no shell; absolute path)", "pulse", gui_quoted=True),
    K(FAILOVER, "protocol", "choice", "tcp", "tcp or udp", "nanny", choices=("tcp", "udp")),
    K(FAILOVER, "use_regex", "bool", False, "expect is a POSIX extended regular expression", "nanny"),
    K(FAILOVER, "reentry", "int", None, "no effect for failover services", unused=True),
)  # fmt: skip

KEYS: dict[str, dict[str, KeySpec]] = {s: {} for s in SECTIONS}
for _spec in SCHEMA:
    KEYS[_spec.section][_spec.key] = _spec
del _spec

# Canonical position of each key in its section (for the writer).
ORDER: dict[str, dict[str, int]] = {s: {k: i for i, k in enumerate(KEYS[s])} for s in SECTIONS}


def keys(section: str) -> dict[str, KeySpec]:
    return KEYS[section]


def field_names(spec: KeySpec) -> tuple[str, ...]:
    """Model fields a key fills: one, or two for `IP DEV` keys."""
    return (spec.key, spec.device_field) if spec.device_field else (spec.key,)
