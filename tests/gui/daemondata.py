"""Canned answers of lvsd and pulse, shaped as the control-socket contract says."""

from __future__ import annotations

import time
from typing import Any

from piranha.table.ipvsadm import run
from piranha.table.model import VirtualTable

FIVE_NODE_TABLE_COMMANDS = [
    ["-A", "-t", "1.2.3.1:80", "-s", "wlc"],
    ["-a", "-t", "1.2.3.1:80", "-r", "192.168.1.3:80", "-m", "-w", "2000"],
    ["-a", "-t", "1.2.3.1:80", "-r", "192.168.1.4:80", "-m", "-w", "1000"],
    ["-a", "-t", "1.2.3.1:80", "-r", "192.168.1.5:80", "-m", "-w", "0"],
]


def lvsadm_listing() -> str:
    table = VirtualTable()
    for argv in FIVE_NODE_TABLE_COMMANDS:
        assert run(table, argv).exit_code == 0
    return run(table, ["-L", "-n"]).stdout


def _dest(address: str, name: str, weight: int, state: str, active: int) -> dict[str, Any]:
    return {
        "address": address, "port": 80, "name": name, "forward": "Masq", "weight": weight if state == "up" else 0,
        "configured_weight": weight, "u_threshold": 0, "l_threshold": 0, "activeconns": active,
        "inactconns": 3, "persistconns": 0, "overloaded": False,
        "stats": {"conns": 100 + active, "inpkts": 1000, "outpkts": 900, "inbytes": 50000, "outbytes": 900000},
        "rates": {"cps": 2, "inpps": 20, "outpps": 18, "inbps": 1000, "outbps": 18000},
        "sorry": False, "in_table": state == "up",
        "health": {"state": state, "forced": None, "draining": False, "since": time.time() - 90,
                   "last_check": time.time() - 1, "last_error": None if state == "up" else "connect: refused",
                   "weight": weight},
    }  # fmt: skip


def table() -> dict[str, Any]:
    return {
        "timeouts": {"tcp": 900, "tcpfin": 120, "udp": 300},
        "services": [{
            "key": {"protocol": "tcp", "address": "1.2.3.1", "port": 80, "fwmark": 0},
            "name": "vs1", "scheduler": "wlc", "sched_flags": [], "persistent": 0, "netmask": "255.255.255.255",
            "stats": {"conns": 312, "inpkts": 3000, "outpkts": 2700, "inbytes": 150000, "outbytes": 2700000},
            "rates": {"cps": 6, "inpps": 60, "outpps": 54, "inbps": 3000, "outbps": 54000},
            "destinations": [
                _dest("192.168.1.3", "rs1", 2000, "up", 7),
                _dest("192.168.1.4", "rs2", 1000, "up", 4),
                _dest("192.168.1.5", "rs3", 1000, "down", 0),
            ],
        }],
    }  # fmt: skip


def health() -> list[dict[str, Any]]:
    rows = []
    for dest in table()["services"][0]["destinations"]:
        h = dest["health"]
        rows.append({"virtual": "vs1", "server": dest["name"], "address": dest["address"], "port": 80,
                     "state": h["state"], "forced": None, "draining": False, "since": h["since"],
                     "last_check": h["last_check"], "last_error": h["last_error"], "checks": 40,
                     "failures": 0 if h["state"] == "up" else 12, "weight": dest["weight"]})  # fmt: skip
    return rows


def history(samples: int = 30) -> dict[str, Any]:
    now = time.time()
    out = []
    for i in range(samples):
        t = now - (samples - 1 - i) * 2
        dests = {
            f"tcp:1.2.3.1:80|192.168.1.{n}:80": {
                "conns": 10 * i, "activeconns": (i * k) % 17, "inactconns": i % 5, "inbytes": 1000 * i,
                "outbytes": 9000 * i, "cps": k, "inbps": 100.0 * i * k, "outbps": 900.0 * i * k,
            }
            for n, k in ((3, 2), (4, 1), (5, 0))
        }  # fmt: skip
        out.append({"t": t, "services": {}, "dests": dests})
    return {"interval": 2, "samples": out}


def lvsd_handlers(
    serial_no: int = 0, reload_result: dict[str, Any] | None = None
) -> dict[str, Any]:
    listing = lvsadm_listing()
    return {
        "status": lambda r: {
            "pid": 4242,
            "version": "0.9.0",
            "config": "/etc/sysconfig/ha/lvs.cf",
            "dataplane": "userspace",
            "state": "active",
            "started": time.time() - 600,
            "serial_no": serial_no,
            "last_reload": None,
            "warnings": [],
        },
        "table": lambda r: table(),
        "health": lambda r: health(),
        "history": lambda r: history(),
        "lvsadm": lambda r: {
            "exit_code": 0,
            "stdout": listing if r.get("argv") == ["-L", "-n"] else "",
            "stderr": "",
            "changed": False,
        },
        "reload": lambda r: reload_result or {"ok": True, "errors": []},
    }


def pulse_handlers(reload_result: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "status": lambda r: {
            "role": "primary",
            "state": "active",
            "since": time.time() - 3600,
            "lvsd_pid": 4242,
            "link_failure": False,
            "partner": {"address": "1.2.3.3", "state": "running", "heartbeat_age": 1.5},
            "heartbeat": {
                "sent": 1800,
                "received": 1795,
                "rejected": {"spoofed": 1, "replayed": 0, "bad": 2, "unauthenticated": 0},
                "config_mismatch": False,
                "authenticated": True,
            },
            "vips": ["1.2.3.1"],
            "service": "lvs",
        },
        "reload": lambda r: reload_result or {"ok": True, "errors": []},
    }
