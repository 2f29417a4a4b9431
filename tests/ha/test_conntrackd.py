"""syncdaemon with the nftables data plane: pulse's conntrackd switching (netns, root).

Two routers run pulse's SyncDaemon as it runs on takeover and stand-by;
a connection entry made on the active router must be in the new active
router's kernel table after it becomes master.  (The nftables data plane
itself is tested by its own suite; here the entry is inserted with the
conntrack tool, which is what the NAT of that data plane would create.)
"""

import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from tests.support.netns import Topology

pytestmark = pytest.mark.netns

DRIVER = textwrap.dedent(
    """
    import asyncio, logging, sys
    from piranha.config import parse
    from piranha.ha.syncd import SyncDaemon, BACKUP, MASTER
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    me, peer, run_dir = sys.argv[1:4]
    cfg = parse("primary = 10.88.0.1\\nsyncdaemon = 1\\nsyncd_iface = eth0\\n")
    async def main():
        sd = SyncDaemon(cfg, "nftables", logging.getLogger("sync"),
                        local_address=me, peer_address=peer, run_dir=run_dir)
        await sd.become(BACKUP)
        print("backup", flush=True)
        loop = asyncio.get_running_loop()
        while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
            await sd.become(MASTER if line == "master" else BACKUP)
            print(line, flush=True)
        await sd.close()
    asyncio.run(main())
    """
)


def test_connections_follow_the_takeover_through_conntrackd(tmp_path):
    for program in ("conntrackd", "conntrack"):
        if shutil.which(program) is None:
            raise AssertionError(
                f"this test needs {program} (apt-get install conntrackd conntrack)"
            )
    with Topology() as topo:
        a, b = topo.host("a"), topo.host("b")
        topo.link(a, b, "10.88.0.1/24", "10.88.0.2/24")
        drivers = {}
        for host, me, peer in ((a, "10.88.0.1", "10.88.0.2"), (b, "10.88.0.2", "10.88.0.1")):
            run_dir = tmp_path / host.name
            run_dir.mkdir()
            proc = host.spawn(
                [sys.executable, "-c", DRIVER, me, peer, str(run_dir)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert proc.stdout.readline().strip() == "backup"
            drivers[host.name] = (proc, run_dir)
        conf = (drivers[b.name][1] / "conntrackd.conf").read_text()
        assert "IPv4_Destination_Address 10.88.0.1" in conf and "Interface eth0" in conf
        pa, _ = drivers[a.name]
        pa.stdin.write("master\n")
        pa.stdin.flush()
        assert pa.stdout.readline().strip() == "master"
        entry = "-p tcp -s 10.1.1.1 -d 10.2.2.2 --sport 1234 --dport 80 --state ESTABLISHED -t 120 -u ASSURED"
        a.run(["conntrack", "-I", *entry.split()])
        pb, run_b = drivers[b.name]
        config_b = str(run_b / "conntrackd.conf")
        for _ in range(50):
            if "10.1.1.1" in b.run(["conntrackd", "-C", config_b, "-e"], check=False).stdout:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the entry never reached the backup's external cache")
        assert "10.1.1.1" not in b.run(["conntrack", "-L"], check=False).stdout
        pb.stdin.write("master\n")  # b takes over
        pb.stdin.flush()
        assert pb.stdout.readline().strip() == "master"
        listing = b.run(["conntrack", "-L"], check=False).stdout
        assert "src=10.1.1.1 dst=10.2.2.2 sport=1234 dport=80" in listing
        for proc, _ in drivers.values():
            proc.stdin.close()
            proc.wait(timeout=10)
