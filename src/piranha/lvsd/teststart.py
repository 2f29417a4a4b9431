"""``lvsd --test-start``: say what would be set up, touch nothing, exit.

The original logged the ipvsadm and nanny command lines without running
them and then sat in its main loop; here every table change is logged as
the ``lvsadm`` line that makes it (so it can be replayed by hand) and lvsd
exits 0.  No data plane is started, no health check runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from piranha.config import Config
from piranha.config.environment import system_resolve_host
from piranha.dataplane import choose

from . import build


def describe(config: Config, plan: build.Plan) -> list[str]:
    """The lines to log, in the order lvsd would act."""
    tcp, tcpfin, udp = plan.timeouts
    lines = [f"test-start: lvsadm --set {tcp} {tcpfin} {udp}", "test-start: lvsadm -C"]
    for svc in plan.services:
        lines.append(f"starting virtual service {svc.name} active: {svc.vport}")
        lines.append("test-start: lvsadm " + " ".join(build.add_service_argv(svc)))
        for server in svc.servers:
            lines.append(f"create_monitor for {server.label}")
            lines.append(
                "test-start: once its health check admits it: lvsadm "
                + " ".join(build.add_server_argv(svc, server, server.weight))
            )
        if svc.sorry_server:
            sorry = build.ServerPlan(svc.name, "sorry_server", svc.sorry_server, svc.vport, 1)
            lines.append(
                "test-start: while no real server is up: lvsadm "
                + " ".join(build.add_server_argv(svc, sorry, 1))
            )
    return lines


def run_test_start(config: Config, path: Path, log: logging.Logger) -> int:
    plan = build.plan(config, system_resolve_host)
    for problem in plan.problems:
        log.warning("%s", problem)
    try:
        cls, notes = choose(config.dataplane)
    except RuntimeError as exc:
        log.warning("%s", exc)
    else:
        why = f" (passed over: {'; '.join(notes)})" if notes else ""
        log.info("would use data plane %s%s", cls.name, why)
    for line in describe(config, plan):
        log.info("%s", line)
    log.info("test-start: %s checked; nothing was changed", path)
    return 0
