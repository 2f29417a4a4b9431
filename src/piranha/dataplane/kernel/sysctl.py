"""Kernel parameters under /proc/sys, by their dotted names (``net.ipv4.ip_forward``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path("/proc/sys")


def path_of(name: str) -> Path:
    # interface names may contain dots (eth0.100): only the separators become slashes
    parts = name.split(".")
    if len(parts) > 4 and parts[:3] == ["net", "ipv4", "conf"]:
        return ROOT.joinpath("net", "ipv4", "conf", ".".join(parts[3:-1]), parts[-1])
    return ROOT.joinpath(*parts)


def get(name: str) -> str:
    """The value as the kernel prints it; OSError if there is no such parameter."""
    return path_of(name).read_text().strip()


def set_value(name: str, value: str) -> None:
    path_of(name).write_text(f"{value}\n")
