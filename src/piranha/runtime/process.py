"""Running external commands the safe way: no shell, real timeouts.

Used for nanny's ``send_program`` and load monitor, pulse's
``active_cmd``/``inactive_cmd`` and the failover services' start/stop
commands.  A command runs in its own process group so that a timeout kills
the whole tree (the original's SIGALRM could be restarted and hang, RH bz
191787), and the output read is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
from dataclasses import dataclass

MAX_OUTPUT = 64 * 1024


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int | None  # None = killed at the timeout
    stdout: bytes
    error: str = ""  # could not start: why

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def split_command(command: str) -> list[str]:
    """Split an lvs.cf command line on blanks, as the original did (no shell, no quotes)."""
    return command.split()


async def run_command(
    argv: list[str],
    *,
    timeout: float,
    capture: bool = True,
    env: dict[str, str] | None = None,
) -> CommandResult:
    """Run ``argv`` (no shell); kill its process group at ``timeout`` seconds."""
    if not argv:
        return CommandResult(None, b"", "empty command")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    except OSError as exc:
        return CommandResult(None, b"", f"cannot run {argv[0]}: {exc.strerror or exc}")

    async def _collect() -> bytes:
        if proc.stdout is None:
            await proc.wait()
            return b""
        data = bytearray()
        while chunk := await proc.stdout.read(65536):
            if len(data) < MAX_OUTPUT:
                data += chunk[: MAX_OUTPUT - len(data)]
        await proc.wait()
        return bytes(data)

    try:
        out = await asyncio.wait_for(_collect(), timeout)
    except TimeoutError:
        _kill_group(proc.pid)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 2.0)
        return CommandResult(None, b"", f"{argv[0]} timed out after {timeout:g} s")
    except asyncio.CancelledError:
        _kill_group(proc.pid)
        raise
    return CommandResult(proc.returncode, out)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


PR_SET_PDEATHSIG = 1

try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved once, before any fork
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``signum`` to this process when its parent dies.

    As a ``preexec_fn`` it runs in the child between fork and exec (one system
    call); a child can also call it itself.  The kernel ties the signal to the
    *thread* that forked: fork from a thread that lives as long as the parent.
    """
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)

