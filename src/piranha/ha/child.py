"""The lvsd that pulse runs: start it, wait until it says READY, activate, stop.

pulse starts lvsd the way the original did (``lvsd --nofork -c FILE`` as a
daemon, ``--nodaemon`` in the foreground, ``-v`` when verbose), with
``NOTIFY_SOCKET`` pointing at pulse's own socket, and waits (bounded, 10 s
like the RHEL semaphore) for ``READY=1``: the table is programmed.  A warm
standby is ``lvsd --standby``, which runs the health checks only, and is
switched on with the control op ``activate``.

lvsd gets SIGTERM if pulse dies (the kernel's parent-death signal), so a
crashed or SIGKILLed pulse never leaves a headless lvsd serving the VIPs.

The fork and exec happen in a worker thread and the exit is watched through
a pidfd: the heartbeat loop never waits for a process to be created (a
fork with a pre-exec hook blocks its caller until the child has exec'd,
which on a busy machine took long enough to miss a sub-second deadtime).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from piranha.runtime.control import ControlError, acall
from piranha.runtime.process import die_with_parent

from .notify import NotifySocket

READY_TIMEOUT = 10.0  # the RHEL pulse's semaphore wait
STOP_TIMEOUT = 30.0  # then SIGKILL (the original waited forever)


def _kill_orphan(made: asyncio.Future[subprocess.Popen]) -> None:
    if made.cancelled() or made.exception() is not None:
        return
    popen = made.result()
    with contextlib.suppress(ProcessLookupError):
        popen.kill()
    popen.wait()  # SIGKILL: at once


class Process:
    """A child process whose exit the event loop hears through a pidfd (no watcher thread)."""

    def __init__(self, popen: subprocess.Popen) -> None:
        loop = asyncio.get_running_loop()
        self.popen = popen
        self.pid = popen.pid
        self.returncode: int | None = None
        self._exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = os.pidfd_open(popen.pid)
        loop.add_reader(self._pidfd, self._reap)

    @classmethod
    async def spawn(cls, argv: list[str], env: dict[str, str]) -> Process:
        made = asyncio.ensure_future(
            asyncio.to_thread(
                subprocess.Popen, argv, env=env, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent
            )
        )
        try:
            popen = await asyncio.shield(made)
        except asyncio.CancelledError:
            # the fork goes on in its thread: a process nobody would watch is killed
            made.add_done_callback(_kill_orphan)
            raise
        return cls(popen)

    def _reap(self) -> None:
        code = self.popen.poll()
        if code is None:
            return
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        self.returncode = code
        if not self._exited.done():
            self._exited.set_result(code)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            self.popen.send_signal(signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class LvsdChild:
    """One lvsd process at a time."""

    def __init__(
        self,
        command: list[str],
        config_path: Path,
        notify: NotifySocket,
        control_path: Path,
        *,
        daemon: bool,
        verbose: bool,
        log: logging.Logger,
        on_exit: Callable[[int, int], None],
    ) -> None:
        self.command = command
        self.config_path = config_path
        self.notify = notify
        self.control_path = control_path
        self.daemon = daemon
        self.verbose = verbose
        self.log = log
        self.on_exit = on_exit  # (pid, returncode) of an lvsd that exited on its own
        self.proc: Process | None = None
        self.standby = False
        self.ready = False  # the running lvsd has said READY=1
        self._watch: asyncio.Task[None] | None = None
        self._stopping: set[int] = set()
        self._starting: Process | None = None  # its failure is start()'s to report

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    @property
    def state(self) -> str | None:
        """None (no lvsd), "starting", "standby" (warm, ready) or "active"."""
        if self.pid is None:
            return None
        if not self.ready:
            return "starting"
        return "standby" if self.standby else "active"

    def argv(self, standby: bool) -> list[str]:
        argv = [
            *self.command,
            "--nofork" if self.daemon else "--nodaemon",
            "-c",
            str(self.config_path),
        ]
        if self.verbose:
            argv.append("-v")
        if standby:
            argv.append("--standby")
        return argv

    async def start(self, *, standby: bool, timeout: float = READY_TIMEOUT) -> str | None:
        """Start lvsd and wait for READY=1; None when ready, else why not (lvsd is then killed)."""
        if self.pid is not None:
            raise RuntimeError("lvsd is already running")
        argv = self.argv(standby)
        env = dict(os.environ, NOTIFY_SOCKET=str(self.notify.path))
        self.log.debug("running %s", " ".join(argv))
        try:
            proc = await Process.spawn(argv, env)
        except OSError as exc:
            return f"cannot run {argv[0]}: {exc.strerror or exc}"
        ready = self.notify.expect(proc.pid)
        self.proc, self.standby, self._starting = proc, standby, proc
        self.ready = False
        self._watch = asyncio.create_task(self._watch_exit(proc), name=f"lvsd-{proc.pid}")
        exited = asyncio.ensure_future(proc.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            exited.cancel()
            self._starting = None
        if ready in done and ready.result():
            self.ready = True
            return None
        ready.cancel()
        if proc.returncode is not None:  # reported here, not through on_exit
            self._stopping.add(proc.pid)
            if self._watch is not None:  # whichever of us woke first, it is settled now
                with contextlib.suppress(asyncio.CancelledError):
                    await self._watch
            self._stopping.discard(proc.pid)
            self.proc = None
            return f"lvsd exited with status {proc.returncode} before it was ready"
        await self.stop(kill=True)
        return f"lvsd did not report ready within {timeout:g} s; killed it"

    async def activate(self, timeout: float = READY_TIMEOUT) -> str | None:
        """Warm standby -> active through the control socket; None on success."""
        try:
            await acall(self.control_path, "activate", timeout=timeout)
        except ControlError as exc:
            return f"lvsd refused to activate: {exc}"
        except OSError as exc:
            return f"cannot reach lvsd: {exc}"
        self.standby = False
        return None

    def reload(self) -> bool:
        """Forward SIGHUP (only to our lvsd: the original hit its whole process group
        when none was running)."""
        if self.pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGHUP)
        return True

    async def stop(self, *, kill: bool = False, timeout: float = STOP_TIMEOUT) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            self.proc = None
            return
        self._stopping.add(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            self.log.warning(
                "lvsd (pid %d) did not stop within %g s; killing it", proc.pid, timeout
            )
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self._watch is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        self.proc = None

    async def _watch_exit(self, proc: Process) -> None:
        code = await proc.wait()
        self.notify.forget(proc.pid)
        if proc.pid in self._stopping or proc is self._starting:
            self._stopping.discard(proc.pid)
            return
        if self.proc is proc:
            self.proc = None
        self.on_exit(proc.pid, code)
