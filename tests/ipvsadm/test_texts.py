"""-h and -v: ipvsadm 1.31's help under our name, and a version line naming both versions."""

from __future__ import annotations

from piranha import __version__
from piranha.table import model
from piranha.table.ipvsadm import run
from piranha.table.ipvsadm.tables import OPTIONS


def test_version_line() -> None:
    result = run(model.VirtualTable(), ["-v"])
    assert (result.exit_code, result.stderr, result.changed) == (0, "", False)
    assert result.stdout == (
        f"lvsadm v1.31 2019/12/24 (piranha {__version__}, "
        "compatible with ipvsadm v1.31 and IPVS v1.2.1)\n"
    )


def test_help_text() -> None:
    result = run(model.VirtualTable(), ["-h"], prog="ipvsadm")
    assert (result.exit_code, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ipvsadm v1.31 2019/12/24 (")
    assert lines[1:4] == [
        "Usage:",
        "  ipvsadm -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] "
        "[--pe persistence_engine] [-b sched-flags]",
        "  ipvsadm -D virtual-service",
    ]
    assert lines[14:18] == [
        "  ipvsadm -h",
        "",
        "Commands:",
        "Either long or short options are allowed.",
    ]
    assert (
        "  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,"
        in lines
    )
    assert "                                      the default scheduler is wlc." in lines
    assert "  --pe            engine              alternate persistence engine may be sip," in lines
    assert lines[-7:] == [
        "Daemon Options:",
        "  --syncid sid                        syncid for connection sync (default=255)",
        "  --sync-maxlen length                Max sync message length (default=1472)",
        "  --mcast-interface interface         multicast interface for connection sync",
        "  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)",
        "  --mcast-port port                   UDP port (default=8848)",
        "  --mcast-ttl ttl                     Multicast TTL (default=1)",
    ]
    assert len(lines) == 82
    # every long option is described
    for spec in OPTIONS:
        if spec.long != "version":  # (ipvsadm's help does not mention -v)
            assert f"--{spec.long}" in result.stdout, spec.long
