"""Charts of connections and traffic per real server, drawn on the server as SVG.

lvsd's ``history`` op keeps a sample every 2 s; this module turns the
samples into chart geometry (polyline points, axis labels).  The template
draws it, so every label is escaped like any other value and the charts
need no JavaScript (a text browser shows the numbers in the table below
them instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT = 460, 120
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 8, 20


@dataclass(frozen=True)
class Series:
    label: str
    css: str  # class of the line: a, b
    points: str  # "x,y x,y ..." for <polyline>
    last: float


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    series: list[Series]
    y_ticks: list[tuple[float, str]]  # (y pixel, label)
    x_labels: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    plot: tuple[int, int, int, int] = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)


@dataclass(frozen=True)
class ServerCharts:
    virtual: str
    server: str
    key: str
    charts: list[Chart] = field(default_factory=list)


def nice_ceiling(value: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value * 0.999999:
            return float(candidate)
    return float(10 ** (exponent + 1))  # pragma: no cover - the loop always returns


def human(value: float, unit: str = "") -> str:
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= threshold:
            return f"{value / threshold:.3g}{suffix}{unit}"
    return f"{value:.3g}{unit}" if value != int(value) else f"{int(value)}{unit}"


def _chart(
    title: str, unit: str, times: list[float], lines: list[tuple[str, str, list[float]]]
) -> Chart:
    x0, y0, x1, y1 = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    t_min, t_max = (times[0], times[-1]) if times else (0.0, 1.0)
    span = (t_max - t_min) or 1.0
    top = nice_ceiling(max((max(v) for _, _, v in lines if v), default=0.0))

    def x(t: float) -> float:
        return x0 + (t - t_min) / span * (x1 - x0)

    def y(v: float) -> float:
        return y1 - v / top * (y1 - y0)

    series = [
        Series(
            label,
            css,
            " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(times, values, strict=True)),
            values[-1] if values else 0.0,
        )
        for label, css, values in lines
    ]
    ticks = [(y(v), human(v)) for v in (0.0, top / 2, top)]
    minutes = span / 60
    x_labels = [(x0, f"-{minutes:.0f} min" if minutes >= 1 else f"-{span:.0f} s"), (x1, "now")]
    return Chart(title, unit, series, ticks, x_labels)


def _value(sample: dict[str, Any], key: str, field_name: str) -> float:
    entry = (sample.get("dests") or {}).get(key) or {}
    value = entry.get(field_name, 0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def server_charts(
    history: dict[str, Any], names: dict[str, tuple[str, str]] | None = None
) -> list[ServerCharts]:
    """One connections chart and one traffic chart per real server in `history`.

    `names` maps a dest key (``tcp:1.2.3.4:80|10.0.0.2:80``) to (virtual
    name, server name) from lvsd's ``table`` op; unnamed ones show their key.
    """
    samples = [
        s
        for s in history.get("samples") or []
        if isinstance(s, dict) and isinstance(s.get("t"), int | float)
    ]
    samples.sort(key=lambda s: s["t"])
    keys: list[str] = []
    for sample in samples:
        for key in sample.get("dests") or {}:
            if key not in keys:
                keys.append(key)
    times = [float(s["t"]) for s in samples]
    out = []
    for key in sorted(keys):
        virtual, server = (names or {}).get(key, (key.split("|")[0], key.split("|")[-1]))

        def column(name: str, key: str = key) -> list[float]:
            return [_value(s, key, name) for s in samples]

        connections = _chart(
            "Connections", "",
            times, [("active", "a", column("activeconns")), ("inactive", "b", column("inactconns"))],
        )  # fmt: skip
        traffic = _chart(
            "Traffic (bytes/s)", "B/s",
            times, [("in", "a", column("inbps")), ("out", "b", column("outbps"))],
        )  # fmt: skip
        out.append(ServerCharts(virtual, server, key, [connections, traffic]))
    return out


def dest_names(table: dict[str, Any] | None) -> dict[str, tuple[str, str]]:
    """Dest key -> (virtual name, server name) from lvsd's ``table`` answer."""
    names: dict[str, tuple[str, str]] = {}
    for svc in (table or {}).get("services") or []:
        key = svc.get("key") or {}
        proto = key.get("protocol")
        skey = (
            f"fwm:{key.get('fwmark')}"
            if proto == "fwm"
            else f"{proto}:{key.get('address')}:{key.get('port')}"
        )
        for dest in svc.get("destinations") or []:
            dkey = f"{skey}|{dest.get('address')}:{dest.get('port')}"
            names[dkey] = (
                str(svc.get("name") or skey),
                str(dest.get("name") or f"{dest.get('address')}:{dest.get('port')}"),
            )
    return names
