"""nanny's table commands (ipvs_exec.c), idempotent, on a real piranha table."""

from __future__ import annotations

import asyncio
import logging

import pytest

from piranha.health.commands import (
    CommandFailed,
    LoggedCommands,
    ServiceTarget,
    TableCommands,
    command_line,
    routing_method,
)
from piranha.table.ipvsadm import render_save, run
from piranha.table.model import VirtualTable

TARGET = ServiceTarget(vip="192.168.0.100", vport=80, address="10.0.0.2", rport=8080)


class OnTable(TableCommands):
    def __init__(self, target: ServiceTarget, table: VirtualTable) -> None:
        super().__init__(target)
        self.table = table
        self.argvs: list[list[str]] = []

    async def run(self, argv: list[str]) -> tuple[int, str]:
        self.argvs.append(argv)
        result = run(self.table, argv)
        return result.exit_code, result.stderr


def table_with_service(*argv: str) -> VirtualTable:
    table = VirtualTable()
    assert run(table, ["-A", *argv, "-s", "wlc"]).exit_code == 0
    return table


def saved(table: VirtualTable) -> str:
    return render_save(table)


def test_command_lines_are_the_originals():
    assert TARGET.add(3) == ["-a", "-t", "192.168.0.100:80", "-r", "10.0.0.2:8080", "-m", "-w", "3"]
    assert TARGET.edit(0) == [
        "-e",
        "-t",
        "192.168.0.100:80",
        "-r",
        "10.0.0.2:8080",
        "-m",
        "-w",
        "0",
    ]
    assert TARGET.delete() == ["-d", "-t", "192.168.0.100:80", "-r", "10.0.0.2:8080"]
    fwm = ServiceTarget("", 80, "10.0.0.2", 80, fwmark=80, method="-g")
    assert fwm.add(1) == ["-a", "-f", "80", "-r", "10.0.0.2:80", "-g", "-w", "1"]
    udp = ServiceTarget("192.168.0.100", 53, "10.0.0.2", 53, udp=True, method="-i")
    assert udp.delete() == ["-d", "-u", "192.168.0.100:53", "-r", "10.0.0.2:53"]


@pytest.mark.parametrize(
    ("given", "flag"),
    [("m", "-m"), ("-g", "-g"), ("i", "-i"), ("gate", "-g"), ("x", "-m"), ("", "-m")],
)
def test_routing_method_as_nanny_read_it(given, flag):
    assert routing_method(given) == flag


def test_admit_ramp_quiesce_readmit_remove_on_a_table():
    table = table_with_service("-t", "192.168.0.100:80")
    cmds = OnTable(TARGET, table)

    async def main():
        await cmds.admit(1)
        await cmds.set_weight(2)
        await cmds.withdraw(True)  # quiesce: the entry stays at weight 0
        after_quiesce = saved(table)
        await cmds.admit(1)  # re-weights the quiesced entry (-e), as the original
        await cmds.withdraw(False)
        return after_quiesce

    after_quiesce = asyncio.run(main())
    assert [a[0] for a in cmds.argvs] == ["-a", "-e", "-e", "-e", "-d"]
    assert "-r 10.0.0.2:8080 -m -w 0" in after_quiesce
    assert "10.0.0.2" not in saved(table)


def test_converges_over_a_table_that_already_has_or_lacks_the_entry():
    table = table_with_service("-t", "192.168.0.100:80")
    run(table, TARGET.add(5))
    cmds = OnTable(TARGET, table)

    async def main():
        await cmds.admit(1)  # -a refused ("already exists") -> -e
        run(table, TARGET.delete())  # someone removed it meanwhile
        await cmds.withdraw(False)  # "No such destination": already done
        await cmds.withdraw(True)

    asyncio.run(main())
    assert [a[0] for a in cmds.argvs] == ["-a", "-e", "-d", "-e"]
    assert not cmds.present


def test_a_missing_service_is_a_failure_with_the_originals_words():
    cmds = OnTable(TARGET, VirtualTable())
    with pytest.raises(
        CommandFailed, match=r"^/sbin/ipvsadm command failed! \(Service not defined\)$"
    ):
        asyncio.run(cmds.admit(1))


def test_test_start_logs_quoted_command_lines(caplog):
    log = logging.getLogger("test.health.commands")
    cmds = LoggedCommands(TARGET, log, "/sbin/ipvsadm")
    with caplog.at_level(logging.INFO, logger="test.health.commands"):
        asyncio.run(cmds.admit(2))
    assert caplog.messages == [
        'running command "/sbin/ipvsadm" "-a" "-t" "192.168.0.100:80" "-r" "10.0.0.2:8080" "-m" "-w" "2"'
    ]
    assert command_line("x", ["a b"]) == '"x" "a b"'
