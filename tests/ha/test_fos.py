"""Failover services (service = fos) between two routers (netns, root).

The service is a small TCP server on the service address, started and
stopped by the lvs.cf start_cmd/stop_cmd scripts on whichever router is
active.  The inactive router watches it with nanny's checks; when it
vanishes while the routers still exchange heartbeats, the watcher checks
its gateway and takes control with the stop-me heartbeat.
"""

import sys
import textwrap

import pytest

from tests.ha.cluster import PRIVATE, PUBLIC, VIP, cluster

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SERVER = textwrap.dedent(
    """
    import os, socket
    name = os.path.basename(os.environ["PIRANHA_RUN_DIR"])
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("{vip}", 8080)); s.listen(64)
    while True:
        c, _ = s.accept(); c.sendall(name.encode() + b"\\n"); c.close()
    """
).format(vip=VIP)


def fos_cf(workdir) -> str:
    start, stop, server = (
        workdir / "fos-start.sh",
        workdir / "fos-stop.sh",
        workdir / "fos-server.py",
    )
    server.write_text(SERVER)
    start.write_text(
        f'#!/bin/sh\n{sys.executable} {server} </dev/null >/dev/null 2>&1 &\necho $! > "$PIRANHA_RUN_DIR/fos.pid"\n'
    )
    stop.write_text(
        '#!/bin/sh\n[ -f "$PIRANHA_RUN_DIR/fos.pid" ] && kill "$(cat "$PIRANHA_RUN_DIR/fos.pid")"\n'
        'rm -f "$PIRANHA_RUN_DIR/fos.pid"\nexit 0\n'
    )
    start.chmod(0o755)
    stop.chmod(0o755)
    return textwrap.dedent(
        f"""\
        primary = {PUBLIC}.1
        primary_private = {PRIVATE}.1
        backup = {PUBLIC}.2
        backup_private = {PRIVATE}.2
        backup_active = 1
        service = fos
        keepalive = 0.1
        deadtime = 0.4
        garp_interval = 0.2
        failover web {{
             address = {VIP} eth0:1
             active = 1
             port = 8080
             timeout = 1
             start_cmd = {start}
             stop_cmd = {stop}
        }}
        """
    )


def answer(c) -> str | None:
    res = c.client.run(
        [
            sys.executable,
            "-c",
            f"import socket; s = socket.create_connection(('{VIP}', 8080), timeout=1); print(s.recv(64).decode().strip())",
        ],
        check=False,
    )
    return res.stdout.strip() or None


def test_fos_runs_the_service_on_the_active_router_and_takes_control_when_it_vanishes():
    with cluster() as c:
        c.write_config(fos_cf(c.workdir))
        for r in c.routers.values():  # the gateway the watcher pings
            r.host.run(["ip", "route", "add", "default", "via", f"{PUBLIC}.10"])
        c.start("r1")
        c.start("r2")
        r1, r2 = c.routers["r1"], c.routers["r2"]
        c.wait_for(lambda: answer(c) == "r1", what="the service on r1")
        assert "backup inactive: activating fos" in r1.log()
        assert "Starting Failover Service Monitors" in r2.log()
        c.wait_for(lambda: "Remote service 10.77.0.100:8080 is available" in r2.log(), what="watch")
        # the service dies on r1 while both pulses keep running
        r1.host.run(["sh", "-c", f"kill $(cat {r1.run_dir}/fos.pid)"])
        c.wait_for(lambda: answer(c) == "r2", what="the service on r2", timeout=30)
        log2 = r2.log()
        for line in (
            "This is a failover condition!",
            "fos process exited -- checking network connectivity",
            "remote service unavailable but we can see the gateway",
            "seems like a remote network fault; performing service failover",
            "Notifying partner WE are taking control!",
        ):
            assert line in log2
        c.wait_for(lambda: "PARTNER HAS TOLD US TO GO INACTIVE!" in r1.log(), what="r1 yields")
        c.wait_for(lambda: c.holder() == {"r2"}, what="only r2 holds the address")
        assert r2.status()["state"] == "active" and r1.status()["state"] == "inactive"
        c.wait_for(lambda: "gratuitous fos arps finished" in r2.log(), what="the ARP burst")
