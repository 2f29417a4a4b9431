"""Prometheus metrics at /metrics, asked of lvsd and pulse at each scrape.

A scrape fetches lvsd's ``table`` and pulse's ``status`` over the control
sockets (concurrently, with a timeout), then a collector turns the answers
into metric families on a fresh registry.  Nothing is cached: what
Prometheus sees is what the daemons said just now.  No ``*_created``
series.  A daemon that is down shows as ``piranha_lvsd_up 0`` /
``piranha_pulse_up 0``; its other series are simply absent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import prometheus_client
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .daemons import Daemons, Reply

prometheus_client.disable_created_metrics()

STATS = (
    ("conns", "connections", "Connections scheduled"),
    ("inpkts", "in_packets", "Packets from clients"),
    ("outpkts", "out_packets", "Packets to clients"),
    ("inbytes", "in_bytes", "Bytes from clients"),
    ("outbytes", "out_bytes", "Bytes to clients"),
)
RATES = (
    ("cps", "connections_per_second", "Connections per second (2 s estimator)"),
    ("inpps", "in_packets_per_second", "Packets per second from clients"),
    ("outpps", "out_packets_per_second", "Packets per second to clients"),
    ("inbps", "in_bytes_per_second", "Bytes per second from clients"),
    ("outbps", "out_bytes_per_second", "Bytes per second to clients"),
)
HEALTH_STATES = ("up", "down", "unknown")
SERVICE_LABELS = ["service", "virtual"]
DEST_LABELS = ["service", "virtual", "server", "address"]


def service_key(key: dict[str, Any]) -> str:
    if key.get("protocol") == "fwm":
        return f"fwm:{key.get('fwmark')}"
    return f"{key.get('protocol')}:{key.get('address')}:{key.get('port')}"


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class DaemonCollector(Collector):
    """Metric families from one ``table`` reply and one pulse ``status`` reply."""

    def __init__(self, table: Reply, pulse: Reply) -> None:
        self.table = table
        self.pulse = pulse

    def collect(self) -> Iterator[Metric]:
        yield from self._up()
        if self.table.ok and isinstance(self.table.data, dict):
            yield from self._services(self.table.data)
        if self.pulse.ok and isinstance(self.pulse.data, dict):
            yield from self._pulse(self.pulse.data)

    def _up(self) -> Iterator[Metric]:
        for daemon, reply in (("lvsd", self.table), ("pulse", self.pulse)):
            family = GaugeMetricFamily(
                f"piranha_{daemon}_up", f"1 if {daemon} answered on its control socket"
            )
            family.add_metric([], 1.0 if reply.ok else 0.0)
            yield family

    def _services(self, table: dict[str, Any]) -> Iterator[Metric]:
        svc_stats = {
            f: CounterMetricFamily(f"piranha_service_{n}", h, labels=SERVICE_LABELS)
            for f, n, h in STATS
        }
        svc_rates = {
            f: GaugeMetricFamily(f"piranha_service_{n}", h, labels=SERVICE_LABELS)
            for f, n, h in RATES
        }
        rs_stats = {
            f: CounterMetricFamily(f"piranha_realserver_{n}", h, labels=DEST_LABELS)
            for f, n, h in STATS
        }
        rs_rates = {
            f: GaugeMetricFamily(f"piranha_realserver_{n}", h, labels=DEST_LABELS)
            for f, n, h in RATES
        }
        gauges = {
            "activeconns": GaugeMetricFamily("piranha_realserver_active_connections", "Active connections", labels=DEST_LABELS),
            "inactconns": GaugeMetricFamily("piranha_realserver_inactive_connections", "Inactive connections", labels=DEST_LABELS),
            "persistconns": GaugeMetricFamily("piranha_realserver_persistent_connections", "Persistence templates", labels=DEST_LABELS),
            "weight": GaugeMetricFamily("piranha_realserver_weight", "Weight in the table now", labels=DEST_LABELS),
            "configured_weight": GaugeMetricFamily("piranha_realserver_configured_weight", "Weight in lvs.cf", labels=DEST_LABELS),
        }  # fmt: skip
        up = GaugeMetricFamily(
            "piranha_realserver_up", "1 if the health check says up", labels=DEST_LABELS
        )
        health = GaugeMetricFamily(
            "piranha_realserver_health", "Health check state (one series per state, 1 for the current one)",
            labels=[*DEST_LABELS, "state"],
        )  # fmt: skip
        in_table = GaugeMetricFamily(
            "piranha_realserver_in_table",
            "1 if the data plane has the real server",
            labels=DEST_LABELS,
        )
        for svc in table.get("services") or []:
            skey = service_key(svc.get("key") or {})
            labels = [skey, str(svc.get("name") or "")]
            for f, family in svc_stats.items():
                family.add_metric(labels, _number((svc.get("stats") or {}).get(f)))
            for f, family in svc_rates.items():
                family.add_metric(labels, _number((svc.get("rates") or {}).get(f)))
            for dest in svc.get("destinations") or []:
                dlabels = [
                    *labels,
                    str(dest.get("name") or ""),
                    f"{dest.get('address')}:{dest.get('port')}",
                ]
                for f, family in rs_stats.items():
                    family.add_metric(dlabels, _number((dest.get("stats") or {}).get(f)))
                for f, family in rs_rates.items():
                    family.add_metric(dlabels, _number((dest.get("rates") or {}).get(f)))
                for f, family in gauges.items():
                    family.add_metric(dlabels, _number(dest.get(f)))
                state = str((dest.get("health") or {}).get("state") or "unknown")
                up.add_metric(dlabels, 1.0 if state == "up" else 0.0)
                for s in HEALTH_STATES:
                    health.add_metric([*dlabels, s], 1.0 if state == s else 0.0)
                in_table.add_metric(dlabels, 1.0 if dest.get("in_table", True) else 0.0)
        yield from svc_stats.values()
        yield from svc_rates.values()
        yield from rs_stats.values()
        yield from rs_rates.values()
        yield from gauges.values()
        yield up
        yield health
        yield in_table

    def _pulse(self, status: dict[str, Any]) -> Iterator[Metric]:
        role = GaugeMetricFamily(
            "piranha_pulse_role", "This router's role (1 for the current one)", labels=["role"]
        )
        for r in ("primary", "backup"):
            role.add_metric([r], 1.0 if status.get("role") == r else 0.0)
        yield role
        active = GaugeMetricFamily("piranha_pulse_active", "1 if this router is the active one")
        active.add_metric([], 1.0 if status.get("state") == "active" else 0.0)
        yield active
        partner = status.get("partner") or {}
        age = partner.get("heartbeat_age")
        if isinstance(age, int | float):
            family = GaugeMetricFamily(
                "piranha_pulse_heartbeat_age_seconds", "Seconds since the partner's last heartbeat"
            )
            family.add_metric([], float(age))
            yield family
        pstate = GaugeMetricFamily(
            "piranha_pulse_partner_state",
            "Partner router state (1 for the current one)",
            labels=["state"],
        )
        for s in ("running", "stopped", "dead", "unknown"):
            pstate.add_metric([s], 1.0 if partner.get("state", "unknown") == s else 0.0)
        yield pstate
        link = GaugeMetricFamily(
            "piranha_pulse_link_failure", "1 if a monitored heartbeat link is down"
        )
        link.add_metric([], 1.0 if status.get("link_failure") else 0.0)
        yield link
        heartbeat = status.get("heartbeat") or {}
        for field_name, name, help_text in (
            ("sent", "sent", "Heartbeats sent"),
            ("received", "received", "Heartbeats received"),
        ):
            family = CounterMetricFamily(f"piranha_pulse_heartbeats_{name}", help_text)
            family.add_metric([], _number(heartbeat.get(field_name)))
            yield family
        rejected = CounterMetricFamily(
            "piranha_pulse_heartbeats_rejected", "Heartbeats rejected", labels=["reason"]
        )
        for reason, count in sorted((heartbeat.get("rejected") or {}).items()):
            rejected.add_metric([str(reason)], _number(count))
        yield rejected
        mismatch = GaugeMetricFamily(
            "piranha_pulse_config_mismatch", "1 if the partner runs a different lvs.cf"
        )
        mismatch.add_metric([], 1.0 if heartbeat.get("config_mismatch") else 0.0)
        yield mismatch


async def scrape(daemons: Daemons) -> bytes:
    """The exposition text for one scrape."""
    table, pulse = await asyncio.gather(daemons.lvsd("table"), daemons.pulse("status"))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DaemonCollector(table, pulse))
    return prometheus_client.generate_latest(registry)


CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
