"""Tuning knobs of the userspace data plane.

They come from :class:`~piranha.dataplane.base.BackendOptions`: ``use_uvloop``
and ``workers`` are fields there; the rest are strings in ``extra`` (so
lvsd or a test can pass them without the config model knowing them).
Bad values are refused with the key, the value and what is expected.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, fields

from ..base import BackendOptions


class SettingsError(ValueError):
    """A tuning value that makes no sense; ``str()`` says which and why."""


@dataclass(frozen=True, slots=True)
class ProxySettings:
    connect_timeout: float = 5.0  # seconds to reach a real server before the client gets a reset
    high_water: int = 64 * 1024  # bytes queued towards one side before the other side is paused
    low_water: int = 16 * 1024  # ... and resumed once the queue is below this
    max_udp_flows: int = 4096  # concurrent UDP flows (one socket each); more are dropped
    linger_max: int = 16384  # closed TCP entries kept for their TIME_WAIT/CLOSE timers
    max_listeners: int = 0  # listening sockets (ports of fwmark ranges); 0 = half the fd limit
    in_process: bool = False  # run in lvsd's event loop even with uvloop (tests, embedding)
    use_uvloop: bool = False
    freebind: bool = False  # listen on VIPs not local yet (a standby's data plane)

    @classmethod
    def from_options(cls, options: BackendOptions) -> ProxySettings:
        values: dict[str, object] = {"use_uvloop": options.use_uvloop, "freebind": options.freebind}
        fixed = ("use_uvloop", "freebind")  # BackendOptions fields, not userspace.* keys
        known = {f.name: f for f in fields(cls)}
        for key, raw in options.extra.items():
            if not key.startswith("userspace."):
                continue  # somebody else's knob
            name = key.removeprefix("userspace.")
            if name not in known or name in fixed:
                raise SettingsError(
                    f"unknown userspace data plane setting {key!r}; known: "
                    + ", ".join(f"userspace.{n}" for n in known if n not in fixed)
                )
            values[name] = _convert(key, str(raw), known[name].type)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if self.connect_timeout <= 0:
            raise SettingsError(f"userspace.connect_timeout must be > 0, not {self.connect_timeout}")
        if not 0 < self.low_water <= self.high_water:
            raise SettingsError(
                f"userspace.low_water ({self.low_water}) must be > 0 and <= "
                f"userspace.high_water ({self.high_water})"
            )
        for name in ("max_udp_flows", "linger_max", "max_listeners"):
            if getattr(self, name) < 0:
                raise SettingsError(f"userspace.{name} must be >= 0, not {getattr(self, name)}")

    def listener_budget(self) -> int:
        """How many listening sockets we allow ourselves (each is one fd)."""
        if self.max_listeners:
            return self.max_listeners
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return max(64, soft // 2)


def _convert(key: str, raw: str, kind: object) -> object:
    kind = {"float": float, "int": int, "bool": bool}.get(str(kind), kind)
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        return kind(raw)  # type: ignore[operator]
    except ValueError:
        name = getattr(kind, "__name__", str(kind))
        raise SettingsError(f"{key} = {raw!r} is not a valid {name}") from None
