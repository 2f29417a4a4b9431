"""``send_program``: an external check command, run without a shell.

The command line is split on blanks; ``%h`` becomes the real server's
address and ``%p`` its port, also inside a word (``http://%h:%p/``) — the
original replaced only words that were exactly ``%h``/``%p``.  The command
runs through piranha.runtime.process: no shell, stdin and stderr to
/dev/null, killed with its whole process group at the timeout.

Verdicts, fixing the original's (piranha-behaviour.md §4.3):

* a command that cannot start, exits non-zero, or runs into the timeout
  means DOWN (the original counted that as UP whenever an expect string was
  set);
* with ``expect``: the output, minus one trailing newline if there is one
  (the original dropped the last byte whatever it was), must equal
  ``expect`` exactly;
* without ``expect``: exit status 0 means UP (the original said DOWN
  whatever happened).
"""

from __future__ import annotations

from piranha.runtime.process import run_command, split_command

from ..expect import ENCODING, ERRORS
from ..limits import limits
from ..probe import Probe
from .result import CheckResult


def program_argv(command: str, address: str, port: int) -> list[str]:
    """``command`` split on blanks with ``%h``/``%p`` replaced, also inside words."""
    return [word.replace("%h", address).replace("%p", str(port)) for word in split_command(command)]


def output_text(stdout: bytes) -> str:
    """The output as compared with expect: one trailing newline (LF or CRLF) removed."""
    text = stdout.decode(ENCODING, ERRORS)
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


async def program_check(probe: Probe, address: str, port: int, timeout: float) -> CheckResult:
    assert probe.program is not None
    argv = program_argv(probe.program, address, port)
    where = f"{address}:{port}"
    async with limits().programs.hold():
        result = await run_command(argv, timeout=timeout)
    if result.returncode is None:
        why = result.error or "no result"
        return CheckResult.down(f"external check of ({where}) failed: {why}")
    if result.returncode != 0:
        return CheckResult.down(
            f"external check of ({where}) failed: {argv[0]} exited with status {result.returncode}"
        )
    if probe.expect_text is None:
        return CheckResult.up()
    if output_text(result.stdout) != probe.expect_text:
        return CheckResult.down(
            f"Trouble. Received results are not what we expected from ({where})"
        )
    return CheckResult.up()
