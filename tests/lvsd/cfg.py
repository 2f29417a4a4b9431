"""lvs.cf texts for the lvsd tests, built from small pieces."""

from __future__ import annotations

from piranha.config import Config, Environment, parse

HOSTS = {"web1.example": "10.0.0.2", "web2.example": "10.0.0.3"}


def server(
    name: str,
    address: str,
    *,
    port: int | None = None,
    weight: int = 1,
    active: int = 1,
    extra: str = "",
) -> str:
    lines = [
        f"     server {name} {{",
        f"         address = {address}",
        f"         active = {active}",
    ]
    if port is not None:
        lines.append(f"         port = {port}")
    lines.append(f"         weight = {weight}")
    lines += [f"         {line}" for line in extra.splitlines() if line.strip()]
    lines.append("     }")
    return "\n".join(lines)


def virtual(
    name: str, address: str, *servers: str, port: int = 80, active: int = 1, extra: str = ""
) -> str:
    lines = [
        f"virtual {name} {{",
        f"     active = {active}",
        f"     address = {address} eth0:1",
        f"     port = {port}",
    ]
    lines += [f"     {line.strip()}" for line in extra.splitlines() if line.strip()]
    lines += list(servers)
    lines.append("}")
    return "\n".join(lines)


def config_text(*virtuals: str, globals_: str = "") -> str:
    head = [
        "serial_no = 1",
        "primary = 192.168.0.10",
        "service = lvs",
        "network = nat",
        "nat_router = 10.0.0.254 eth1:1",
    ]
    head += [line.strip() for line in globals_.splitlines() if line.strip()]
    return "\n".join(head + list(virtuals)) + "\n"


def config(*virtuals: str, globals_: str = "") -> Config:
    return parse(config_text(*virtuals, globals_=globals_), "lvs.cf", Environment.hermetic(HOSTS))


def resolve(name: str) -> str | None:
    return HOSTS.get(name)
