"""Asking lvsd and pulse over their control sockets, never failing a page because one is down."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from piranha.runtime.control import ControlError, NotRunning, acall


@dataclass(frozen=True)
class Reply:
    """One answer: ``ok`` with ``data``, or why not (``running`` False: no daemon at all)."""

    daemon: str
    ok: bool
    data: Any = None
    error: str | None = None
    running: bool = True


@dataclass(frozen=True)
class Overview:
    lvsd: Reply  # status
    routing: Reply  # lvsadm -L -n
    health: Reply
    pulse: Reply  # status


class Daemons:
    def __init__(self, lvsd_socket: Path, pulse_socket: Path, timeout: float = 5.0) -> None:
        self.sockets = {"lvsd": Path(lvsd_socket), "pulse": Path(pulse_socket)}
        self.timeout = timeout

    async def call(
        self, daemon: str, op: str, *, timeout: float | None = None, **params: Any
    ) -> Reply:
        path = self.sockets[daemon]
        try:
            data = await acall(path, op, timeout=timeout or self.timeout, **params)
        except NotRunning as exc:
            return Reply(daemon, False, error=f"{daemon} is not running ({exc})", running=False)
        except ControlError as exc:
            return Reply(daemon, False, error=f"{daemon}: {exc}")
        except (OSError, json.JSONDecodeError) as exc:
            return Reply(daemon, False, error=f"{daemon}: {exc}")
        return Reply(daemon, True, data)

    async def lvsd(self, op: str, **params: Any) -> Reply:
        return await self.call("lvsd", op, **params)

    async def pulse(self, op: str, **params: Any) -> Reply:
        return await self.call("pulse", op, **params)

    async def overview(self) -> Overview:
        lvsd, routing, health, pulse = await asyncio.gather(
            self.lvsd("status"),
            self.lvsd("lvsadm", argv=["-L", "-n"], stdin="", prog="lvsadm"),
            self.lvsd("health"),
            self.pulse("status"),
        )
        return Overview(lvsd, routing, health, pulse)
