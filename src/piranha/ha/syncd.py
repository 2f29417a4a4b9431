"""Connection-state synchronisation between the routers (``syncdaemon = 1``).

* Kernel IPVS: the kernel's sync daemon, switched exactly as the original
  pulse did with ipvsadm (the ``ipvsadm`` key names the program): on
  activation ``--stop-daemon backup``, ``--stop-daemon master``,
  ``--start-daemon master --mcast-interface IF --syncid ID``; at start-up
  and on deactivation the same with ``backup``.
* nftables: conntrackd (Debian ``conntrackd``), configured and switched by
  :mod:`piranha.dataplane.kernel.conntrackd`; pulse runs the daemon
  (unicast to the partner's private heartbeat address, on ``syncd_iface``)
  and switches it: commit the partner's connections when taking over,
  shorten and resync when standing by.
* userspace: the proxy's connections live in lvsd's process; there is no
  kernel state to copy, so ``syncdaemon`` is reported and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil

from piranha.runtime.process import run_command

MASTER, BACKUP = "master", "backup"
COMMAND_TIMEOUT = 10.0


def ipvs_sync_commands(ipvsadm: str, interface: str, sync_id: int, role: str) -> list[list[str]]:
    """The original's three ipvsadm calls that make this router the sync ``role``."""
    return [
        [ipvsadm, "--stop-daemon", BACKUP],
        [ipvsadm, "--stop-daemon", MASTER],
        [
            ipvsadm,
            "--start-daemon",
            role,
            "--mcast-interface",
            interface,
            "--syncid",
            str(sync_id & 0xFF),
        ],
    ]


class SyncDaemon:
    """Switches connection sync with the router's role; a no-op unless ``syncdaemon = 1``."""

    def __init__(
        self,
        config,
        dataplane: str | None,
        log: logging.Logger,
        *,
        dry_run: bool = False,
        local_address: str | None = None,
        peer_address: str | None = None,
        run_dir: str = "/run/piranha",
    ) -> None:
        self.log = log
        self.dry_run = dry_run
        self.local_address = local_address
        self.peer_address = peer_address
        self.run_dir = run_dir
        self._conntrackd: asyncio.subprocess.Process | None = None
        self._closing = False
        self._watcher: asyncio.Task[None] | None = None
        self.configure(config, dataplane)

    def configure(self, config, dataplane: str | None) -> None:
        self.enabled = bool(config.syncdaemon)
        self.ipvsadm = config.ipvsadm
        self.interface = config.syncd_iface
        self.sync_id = int(config.syncd_id)
        self.dataplane = dataplane
        self._noted = False

    def conntrackd_settings(self):
        from piranha.dataplane.kernel.conntrackd import SyncSettings

        return SyncSettings(
            interface=self.interface,
            local_address=self.local_address or "0.0.0.0",
            peer_address=self.peer_address,
            run_dir=self.run_dir,
        )

    async def become(self, role: str) -> None:
        if not self.enabled:
            return
        if self.dataplane == "ipvs":
            await self._run_all(
                ipvs_sync_commands(self.ipvsadm, self.interface, self.sync_id, role)
            )
        elif self.dataplane == "nftables":
            await self._conntrackd_role(role)
        elif not self._noted:
            self._noted = True
            self.log.info(
                "syncdaemon = 1: the %s data plane keeps no kernel connection state to synchronise; ignored",
                self.dataplane or "chosen",
            )

    async def _run_all(self, commands: list[list[str]]) -> None:
        for argv in commands:
            if self.dry_run:
                self.log.info("test-start: would run %s", " ".join(argv))
                continue
            if shutil.which(argv[0]) is None:
                self.log.warning(
                    "syncdaemon: %s not found; install it (or set `ipvsadm =` in lvs.cf)", argv[0]
                )
                return
            result = await run_command(argv, timeout=COMMAND_TIMEOUT, capture=False)
            if not result.ok:
                self.log.warning(
                    "%s failed (%s)",
                    " ".join(argv),
                    result.error or f"exit status {result.returncode}",
                )

    # --- conntrackd ---------------------------------------------------------------------
    async def _conntrackd_role(self, role: str) -> None:
        from piranha.dataplane.kernel import conntrackd

        settings = self.conntrackd_settings()
        if not self.dry_run and not await self._ensure_conntrackd(settings):
            return
        argvs = (
            conntrackd.primary_argvs(settings)
            if role == MASTER
            else conntrackd.backup_argvs(settings)
        )
        await self._run_all(argvs)

    async def _ensure_conntrackd(self, settings) -> bool:
        """Start conntrackd once (pulse supervises it; it is not restarted blindly)."""
        from piranha.dataplane.kernel import conntrackd

        if self._conntrackd is not None:  # running, or died (logged when it did)
            return self._conntrackd.returncode is None
        if shutil.which(conntrackd.PROGRAM) is None:
            self.log.warning(
                "syncdaemon = 1 with the nftables data plane needs conntrackd "
                "(apt-get install conntrackd); connections will not survive a failover"
            )
            self.enabled = False
            return False
        conntrackd.write_config(settings)
        argv = conntrackd.daemon_argv(settings)
        try:
            self._conntrackd = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            self.log.warning("cannot run %s: %s", argv[0], exc.strerror or exc)
            self.enabled = False
            return False
        self._watcher = asyncio.create_task(self._watch(self._conntrackd), name="conntrackd")
        # its control socket must exist before the role commands can talk to it
        for _ in range(50):
            if self._conntrackd.returncode is not None:
                break
            if os.path.exists(settings.socket_path):
                return True
            await asyncio.sleep(0.05)
        self.log.warning(
            "conntrackd did not come up (see syslog); connections will not be synchronised"
        )
        return False

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if proc is self._conntrackd and not self._closing:
            self.log.warning("conntrackd (pid %d) exited with status %d", proc.pid, code)

    async def close(self) -> None:
        self._closing = True
        proc, self._conntrackd = self._conntrackd, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
