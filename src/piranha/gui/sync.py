"""SYNC TO BACKUP: copy lvs.cf to the backup router, as guide section 4.7 does by hand, and prove it.

The copy uses the family of ``rsh_command`` (scp and ssh for ssh, rcp and rsh
for rsh), without a shell (runtime.process), to the same path on the
backup; then the backup is asked for the file's SHA-256 (``sha256sum``) and
it is compared with ours.  Both routers must hold identical files, or
failover may not work (guide 4.7.1).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from piranha.config import Config
from piranha.runtime.process import CommandResult, run_command

Runner = Callable[..., Awaitable[CommandResult]]
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._/+-]+\Z")
_SHA256 = re.compile(r"([0-9a-f]{64})\b")


@dataclass(frozen=True)
class Step:
    argv: list[str]
    ok: bool
    message: str


@dataclass(frozen=True)
class SyncResult:
    ok: bool
    message: str
    backup: str | None = None
    local_sha256: str | None = None
    remote_sha256: str | None = None
    steps: list[Step] = field(default_factory=list)


def commands(rsh_command: str, host: str, path: str) -> tuple[list[str], list[str]]:
    """(copy argv, remote-checksum argv) for the rsh_command family."""
    program = os.path.basename(rsh_command.split()[0]) if rsh_command.strip() else "rsh"
    if "ssh" in program:
        return (
            ["scp", "-q", "-p", "-o", "BatchMode=yes", "--", path, f"{host}:{path}"],
            ["ssh", "-o", "BatchMode=yes", "--", host, "sha256sum", path],
        )
    return (["rcp", "-p", path, f"{host}:{path}"], ["rsh", host, "sha256sum", path])


def _describe(argv: list[str], result: CommandResult) -> str:
    if result.error:
        return result.error
    if result.returncode is None:
        return f"{argv[0]} did not finish in time"
    return f"{argv[0]} exited with status {result.returncode}"


async def sync_to_backup(
    config: Config, path: Path, *, runner: Runner = run_command, timeout: float = 60.0
) -> SyncResult:
    host = config.backup
    if not config.backup_active or host in (None, "0.0.0.0"):
        return SyncResult(
            False,
            "no backup router is configured (REDUNDANCY panel: ENABLE, and set the redundant server public IP)",
        )
    assert host is not None
    if host.startswith("-"):
        return SyncResult(False, f"the backup address `{host}` cannot be used on a command line")
    where = str(path)
    if not _SAFE_PATH.match(where):
        return SyncResult(
            False,
            f"{where}: SYNC TO BACKUP copies only paths made of letters, digits and . _ / + -; copy it by hand (guide 4.7.1)",
            host,
        )
    try:
        local = hashlib.sha256(Path(where).read_bytes()).hexdigest()
    except OSError as exc:
        return SyncResult(False, f"cannot read {where}: {exc.strerror or exc}", host)
    copy, verify = commands(config.rsh_command or "rsh", host, where)
    steps: list[Step] = []
    copied = await runner(copy, timeout=timeout)
    steps.append(Step(copy, copied.ok, "copied" if copied.ok else _describe(copy, copied)))
    if not copied.ok:
        return SyncResult(
            False,
            f"copying to {host} failed: {_describe(copy, copied)} — can this router log in to the backup as root without a password (guide table 2)?",
            host,
            local,
            None,
            steps,
        )
    checked = await runner(verify, timeout=timeout)
    match = _SHA256.match(checked.stdout.decode(errors="replace").strip()) if checked.ok else None
    steps.append(
        Step(verify, match is not None, "checksum read" if match else _describe(verify, checked))
    )
    if match is None:
        return SyncResult(
            False,
            f"copied, but could not read the file's checksum on {host}: {_describe(verify, checked)}",
            host,
            local,
            None,
            steps,
        )
    remote = match.group(1)
    if remote != local:
        return SyncResult(
            False,
            f"{host} holds a different {where} (sha256 {remote[:12]}…, here {local[:12]}…) — the copy did not take; check disk space and permissions on the backup",
            host,
            local,
            remote,
            steps,
        )
    return SyncResult(
        True,
        f"{host} now holds the same {where} (sha256 {local[:16]}…)",
        host,
        local,
        remote,
        steps,
    )
