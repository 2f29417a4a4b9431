"""Actions as the original nanny performed them: ipvsadm command lines.

A standalone ``piranha nanny`` changes the table the way nanny 0.8.6 did,
with the same ``-a`` / ``-e`` / ``-d`` command lines (ipvs_exec.c), sent to
lvsd's control socket as ``lvsadm`` requests (the table lives in lvsd).
With ``--test-start`` they are only logged.

Unlike the original, the commands are idempotent where it matters: an
``-a`` of an entry that is already there becomes ``-e``, and a ``-d`` of an
entry that is already gone counts as done, so a nanny restarted over a
live table converges instead of failing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from piranha.runtime.control import ControlError, acall

DEFAULT_IPVSADM = "/sbin/ipvsadm"
METHOD_FLAGS = {"m": "-m", "g": "-g", "i": "-i"}


class CommandFailed(Exception):
    """The table refused a command (or lvsd could not be reached)."""


@dataclass(frozen=True)
class ServiceTarget:
    """The virtual service and real server nanny's commands name."""

    vip: str
    vport: int
    address: str
    rport: int
    udp: bool = False
    fwmark: int = 0
    method: str = "-m"  # -m | -g | -i

    def service_args(self) -> list[str]:
        if self.fwmark:
            return ["-f", str(self.fwmark)]
        return ["-u" if self.udp else "-t", f"{self.vip}:{self.vport}"]

    def add(self, weight: int) -> list[str]:
        return ["-a", *self.service_args(), "-r", self._real(), self.method, "-w", str(weight)]

    def edit(self, weight: int) -> list[str]:
        return ["-e", *self.service_args(), "-r", self._real(), self.method, "-w", str(weight)]

    def delete(self) -> list[str]:
        return ["-d", *self.service_args(), "-r", self._real()]

    def _real(self) -> str:
        return f"{self.address}:{self.rport}"


def routing_method(text: str) -> str:
    """nanny's -M: ``m``/``g``/``i`` with an optional leading dash; anything else is -m."""
    letter = text[1:2] if text.startswith("-") else text[:1]
    return METHOD_FLAGS.get(letter, "-m")


def command_line(program: str, argv: list[str]) -> str:
    """How a command is logged: every word quoted, as the original's logArgv."""
    return " ".join(f'"{word}"' for word in [program, *argv])


class TableCommands:
    """The three actions as ipvsadm commands, tracking whether the entry exists.

    ``run(argv)`` carries out one command line; subclasses decide where to.
    """

    def __init__(self, target: ServiceTarget, program: str = DEFAULT_IPVSADM) -> None:
        self.target = target
        self.program = program
        self.present = False  # an entry exists (in service, or quiesced at 0)

    async def run(self, argv: list[str]) -> tuple[int, str]:
        raise NotImplementedError

    async def admit(self, weight: int) -> None:
        t = self.target
        if self.present:
            await self._must(t.edit(weight))
        else:
            code, err = await self.run(t.add(weight))
            if code != 0 and "exists" in err:
                await self._must(t.edit(weight))
            elif code != 0:
                raise CommandFailed(self._failure(err))
        self.present = True

    async def set_weight(self, weight: int) -> None:
        await self._must(self.target.edit(weight))

    async def withdraw(self, quiesce: bool) -> None:
        t = self.target
        code, err = await self.run(t.edit(0) if quiesce else t.delete())
        if code == 0:
            self.present = quiesce
        elif "No such destination" in err:
            self.present = False  # already gone: nothing left to withdraw
        else:
            raise CommandFailed(self._failure(err))

    async def _must(self, argv: list[str]) -> None:
        code, err = await self.run(argv)
        if code != 0:
            raise CommandFailed(self._failure(err))

    def _failure(self, err: str) -> str:
        detail = err.strip()
        return f"{self.program} command failed!" + (f" ({detail})" if detail else "")


class LoggedCommands(TableCommands):
    """``--test-start``: log each command, run nothing."""

    def __init__(
        self, target: ServiceTarget, log: logging.Logger, program: str = DEFAULT_IPVSADM
    ) -> None:
        super().__init__(target, program)
        self.log = log
        self.lines: list[list[str]] = []

    async def run(self, argv: list[str]) -> tuple[int, str]:
        self.lines.append(argv)
        self.log.info("running command %s", command_line(self.program, argv))
        return 0, ""


class LvsdCommands(TableCommands):
    """Each command as an ``lvsadm`` request on lvsd's control socket."""

    def __init__(
        self,
        target: ServiceTarget,
        socket_path: os.PathLike[str] | str,
        log: logging.Logger,
        program: str = DEFAULT_IPVSADM,
    ) -> None:
        super().__init__(target, program)
        self.socket_path = socket_path
        self.log = log

    async def run(self, argv: list[str]) -> tuple[int, str]:
        self.log.debug("running command %s", command_line(self.program, argv))
        try:
            answer: Any = await acall(
                self.socket_path, "lvsadm", argv=argv, stdin="", prog="lvsadm"
            )
        except ControlError as exc:
            raise CommandFailed(f"{self.program} command failed! ({exc})") from None
        return int(answer.get("exit_code", 255)), str(answer.get("stderr", ""))
