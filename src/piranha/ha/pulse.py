"""The pulse daemon: heartbeats in and out, the state machine, and its actions.

One asyncio loop.  Heartbeats are read the moment they arrive and sends
happen inline, so the heartbeat never waits behind slow work; everything
slow (activation, deactivation, fos commands) runs in order on a worker
task.  The decisions are all in :mod:`.state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piranha.config import Config, ConfigError, load
from piranha.runtime import notify as sd
from piranha.runtime.control import ControlError, ControlServer
from piranha.runtime.paths import socket_path

from . import netlink, state, wire
from .addresses import AddressError, AddressKeeper
from .announce import Announcer
from .child import LvsdChild
from .fos import PartnerWatch, gateway_reachable
from .heartbeat import MAX_DATAGRAM, HeartbeatSockets
from .keyfile import KeyFileError, load_key
from .notify import NotifySocket
from .services import CommandRunner, Floating, FosService, LvsService
from .syncd import SyncDaemon

LINK_POLL = 1.0  # seconds between link checks besides netlink events
WARN_EVERY = 10.0  # rate limit for repeated rejection messages
READS_PER_WAKEUP = 64  # datagrams read per readable event
MISMATCH_EVERY = 60.0


class StartupError(Exception):
    """pulse cannot start; the message is printed as ``pulse: <message>``."""


@dataclass
class Options:
    config_path: Path
    foreground: bool = False  # -n
    daemon: bool = True  # lvsd gets --nofork (else --nodaemon)
    verbose: bool = False
    test_start: bool = False
    force_active: bool = False
    lvsd_command: list[str] = field(default_factory=list)
    run_dir: Path = Path("/run/piranha")


def timing_of(config: Config) -> state.Timing:
    return state.Timing(
        keepalive=float(config.keepalive),
        deadtime=float(config.deadtime),
        failback=bool(config.failback),
        failback_delay=float(config.failback_delay),
    )


# Settings that decide who we are and where we listen: a reload cannot change them.
RESTART_KEYS = (
    "primary",
    "backup",
    "primary_private",
    "backup_private",
    "heartbeat_port",
    "service",
    "backup_active",  # single-router mode or not: decided at start
)


@dataclass
class Identity:
    role: str
    own_public: str
    partner_public: str
    own_private: str | None
    partner_private: str | None


def identify(config: Config, local: set[str]) -> Identity:
    """§2.2: the router holding ``primary`` is the primary, every other one the backup.

    Unlike the original (which saw only each interface's first address), any
    address counts: secondaries and labelled aliases too.
    """
    primary_private = config.effective_primary_private
    backup_private = config.effective_backup_private
    if config.primary in local:
        return Identity(
            state.PRIMARY, config.primary, config.backup, primary_private, backup_private
        )
    if config.backup_active and config.backup not in local:
        raise StartupError(
            f"neither primary ({config.primary}) nor backup ({config.backup}) is an address of "
            "this machine; fix `primary`/`backup` in lvs.cf or add the address"
        )
    return Identity(state.BACKUP, config.backup, config.primary, backup_private, primary_private)


class Pulse:
    def __init__(self, config: Config, options: Options, log: logging.Logger) -> None:
        self.config = config
        self.options = options
        self.log = log
        self.identity: Identity | None = None
        self.sm: state.PulseState | None = None
        self.sockets: HeartbeatSockets | None = None
        self.codec: wire.PlainCodec | wire.AuthCodec | None = None
        self.digest = wire.config_digest(config)
        self.boot_id = secrets.randbits(64) | 1
        self.service: LvsService | FosService | None = None
        self.control: ControlServer | None = None
        self.notify_socket: NotifySocket | None = None
        self.exit_code = 0
        self.sent = 0
        self.received = 0
        self.rejected = dict.fromkeys(wire.REJECT_REASONS, 0)
        self.config_mismatch = False
        self._mismatch_logged = -1e9
        self._warned: dict[str, float] = {}
        self._pending_boot = 0
        self._work: asyncio.Queue[state.Action | None] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        # activation, deactivation and reloads change the same addresses and lvsd: one at a time
        self._busy = asyncio.Lock()
        self._reload_lock = asyncio.Lock()  # reloads (SIGHUP, control op) one after another
        self._tasks: set[asyncio.Task[None]] = set()
        self._handed_over = asyncio.Event()
        self._link_sock = None
        self._links_down: list[str] = []
        self._link_check: asyncio.Task[None] | None = None
        self._link_dirty = asyncio.Event()

    # --- start-up --------------------------------------------------------------------
    def bind(self, local: set[str]) -> None:
        """Role and heartbeat sockets; done before daemonizing so errors reach the terminal."""
        config = self.config
        active_services = (
            config.active_failovers() if config.service == "fos" else config.active_virtuals()
        )
        if not active_services:
            raise StartupError(
                f"no active {config.service} services defined in {self.options.config_path}"
            )
        self.identity = identify(config, local)
        ident = self.identity
        self.sockets = HeartbeatSockets.bind(
            int(config.heartbeat_port),
            ident.own_public,
            ident.partner_public,
            ident.own_private,
            ident.partner_private,
        )
        self.codec = self._make_codec(config)

    def _make_codec(self, config: Config) -> wire.PlainCodec | wire.AuthCodec:
        if not config.heartbeat_key_file:
            return wire.PlainCodec(config.service)
        try:
            key = load_key(config.heartbeat_key_file)
        except KeyFileError as exc:
            raise StartupError(str(exc)) from None
        assert self.identity is not None
        role = wire.ROLE_PRIMARY if self.identity.role == state.PRIMARY else wire.ROLE_BACKUP
        codec = wire.AuthCodec(
            key, service=config.service, role=role, boot_id=self.boot_id, digest=self.digest
        )
        old = self.codec
        if isinstance(old, wire.AuthCodec):  # a reload keeps the sequence and what we know
            codec.seq, codec.guard = old.seq, old.guard
        return codec

    async def run(self) -> int:
        assert self.identity is not None and self.sockets is not None
        loop = asyncio.get_running_loop()
        config = self.config
        ident = self.identity
        master = ident.role == state.PRIMARY
        self.log.info("STARTING PULSE AS %s", "MASTER" if master else "BACKUP")
        if not master and not config.backup_active:
            self.log.info("We are backup node and backup is marked inactive -- exiting pulse")
            self.sockets.close()
            return 0
        # Heartbeat timing matters more than a few kilobytes: no collector pauses later.
        gc.collect()
        gc.freeze()
        # everything set up from here on is released by _shutdown, whatever fails
        try:
            self.notify_socket = NotifySocket(self.options.run_dir / "pulse-notify.sock")
            self.notify_socket.open()
            self.service = self._build_service()
            self.control = ControlServer(
                socket_path("pulse"),
                {"status": self._op_status, "reload": self._op_reload},
                log=self.log,
            )
            try:
                await self.control.start()
            except (RuntimeError, OSError) as exc:
                self.log.error("cannot serve the control socket: %s", exc)
                self.control = None
            try:
                await self.service.prepare()
            except AddressError as exc:
                self.log.error("cannot set up the addresses: %s", exc)
                return 1
            self.sm = state.PulseState(
                role=ident.role,
                service=config.service,
                backup_active=bool(config.backup_active),
                timing=timing_of(config),
                force_active=self.options.force_active,
            )
            for p in self.sockets.paths:
                assert p.sock is not None
                loop.add_reader(p.sock.fileno(), self._readable, p)
            self._worker = asyncio.create_task(self._work_loop(), name="pulse-worker")
            if config.monitor_links and config.backup_active:
                await self._start_link_watch(loop)
            self._install_signals(loop)
            self._dispatch(self.sm.start(time.monotonic()))
            if config.service == "lvs" and not self.sm.active:
                self.service.start_standby()
            sd.notify("READY=1")
            sd.notify(f"STATUS={self._status_line()}")
            await self._timer_loop()
        finally:
            await self._shutdown(loop)
        return self.exit_code

    def _build_service(self) -> LvsService | FosService:
        config, opts = self.config, self.options
        keeper = AddressKeeper(opts.run_dir / "pulse-addresses.json")
        floating = Floating(keeper, self.log, dry_run=opts.test_start)
        if config.service == "fos":
            watch = PartnerWatch(self.log, self._on_partner_lost)
            return FosService(
                config,
                floating=floating,
                announcer=Announcer(self.log, kind="fos"),
                watch=watch,
                log=self.log,
                dry_run=opts.test_start,
            )
        child = None
        if not opts.test_start:
            assert self.notify_socket is not None
            child = LvsdChild(
                opts.lvsd_command,
                opts.config_path,
                self.notify_socket,
                socket_path("lvsd"),
                daemon=opts.daemon,
                verbose=opts.verbose,
                log=self.log,
                on_exit=self._on_lvsd_exit,
            )
        return LvsService(
            config,
            floating=floating,
            child=child,
            announcer=Announcer(self.log, kind="lvs"),
            syncd=SyncDaemon(
                config,
                _dataplane_name(config),
                self.log,
                dry_run=opts.test_start,
                local_address=self.identity.own_private if self.identity else None,
                peer_address=self.identity.partner_private if self.identity else None,
                run_dir=str(opts.run_dir),
            ),
            hooks=CommandRunner(self.log, dry_run=opts.test_start),
            log=self.log,
        )

    # --- the timer loop -----------------------------------------------------------------
    async def _timer_loop(self) -> None:
        assert self.sm is not None
        while not self._done.is_set():
            now = time.monotonic()
            deadline = self.sm.next_deadline()
            if deadline <= now:
                self._check_lateness(now - deadline)
                # Heartbeats queued while we were not scheduled count before the partner
                # is declared dead: a starved pulse must not mistake itself for a dead partner.
                self._drain()
                self._dispatch(self.sm.poll(time.monotonic()))
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), deadline - now)

    def _check_lateness(self, late: float) -> None:
        """A timer that fires late means pulse was not scheduled: say so before it bites."""
        assert self.sm is not None
        if late > self.sm.timing.deadtime / 3:
            self._warn(
                "late",
                f"pulse ran {late * 1000:.0f} ms late (deadtime {self.sm.timing.deadtime * 1000:.0f} ms): "
                "the machine is too busy for this deadtime; false failovers are likely",
            )

    def _drain(self) -> None:
        assert self.sockets is not None
        for p in self.sockets.paths:
            self._readable(p)

    # --- heartbeats -------------------------------------------------------------------------
    def _readable(self, path) -> None:
        sock = path.sock
        if sock is None:
            return
        # bounded: a flood of datagrams (each an HMAC to check) must not hold the loop
        # away from the heartbeat timers; the rest waits for the next wake-up
        for _ in range(READS_PER_WAKEUP):
            try:
                data, (source, _port) = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno != errno.ECONNREFUSED:  # from an earlier send: harmless
                    self._warn("recvfrom", f"recvfrom() failed: {exc.strerror or exc}")
                continue
            self._datagram(data, source, path.name == "public")

    def _datagram(self, data: bytes, source: str, public: bool) -> None:
        assert self.sm is not None and self.codec is not None and self.sockets is not None
        if source not in self.sockets.partners():
            self.rejected[wire.SPOOFED] += 1
            self.log.debug("Unexpected heartbeat from %s", source)
            return
        try:
            got = self.codec.decode(data, "public" if public else "private")
        except wire.Rejected as exc:
            self.rejected[exc.reason] += 1
            self._warn(exc.reason, f"{exc} (from {source})")
            return
        except wire.Pending as exc:
            self.log.debug("%s (from %s)", exc, source)
            assert isinstance(self.codec, wire.AuthCodec)
            if self._pending_boot != self.codec.guard.heard:
                # tell the restarted partner our boot id now, not at the next keepalive
                self._pending_boot = self.codec.guard.heard
                self._send(None)
            return
        if got is None:
            return  # the same heartbeat over the other path
        self.received += 1
        if got.digest is not None:
            self._check_digest(got.digest, source)
        self.log.debug("DEBUG -- Received Heartbeat from partner")
        self._dispatch(self.sm.heartbeat(got.magic, time.monotonic(), public=public))
        if self.sm.handed_over:
            self._handed_over.set()
        self._wake.set()

    def _check_digest(self, digest: bytes, source: str) -> None:
        now = time.monotonic()
        if digest == self.digest:
            if self.config_mismatch:
                self.config_mismatch = False
                self.log.info("lvs.cf now matches the partner's")
            return
        if not self.config_mismatch or now - self._mismatch_logged >= MISMATCH_EVERY:
            self._mismatch_logged = now
            self.log.warning(
                "lvs.cf differs between the routers (partner %s: %s…, here: %s…): copy %s to the "
                "other router — mismatched configurations can prevent a correct failover",
                source,
                digest.hex()[:12],
                self.digest.hex()[:12],
                self.options.config_path,
            )
        self.config_mismatch = True

    def _send(self, magic: int | None) -> None:
        assert self.sm is not None and self.codec is not None and self.sockets is not None
        if not self.sm.sends_heartbeats():
            return
        value = self.sm.heartbeat_magic() if magic is None else magic
        if self.options.verbose:
            self.log.debug("DEBUG -- Sending heartbeat...")
        before = [p.errors for p in self.sockets.paths]
        if self.sockets.send(self.codec.encode(value)):
            self.sent += 1
        for p, errors in zip(self.sockets.paths, before, strict=True):
            if p.errors != errors:  # a dead path is otherwise invisible until the partner acts
                self._warn(
                    f"send-{p.name}",
                    f"cannot send heartbeats to {p.partner} on the {p.name} path: {p.last_error} "
                    f"({p.errors} failed so far)",
                )

    def _warn(self, key: str, message: str) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -1e9) >= WARN_EVERY:
            self._warned[key] = now
            self.log.warning("%s", message)

    # --- actions ------------------------------------------------------------------------------
    def _dispatch(self, actions: list[state.Action]) -> None:
        for action in actions:
            if isinstance(action, state.Log):
                getattr(self.log, action.level, self.log.info)("%s", action.message)
            elif isinstance(action, state.Send):
                self._send(action.magic)
            else:
                self._work.put_nowait(action)
        self._wake.set()

    async def _work_loop(self) -> None:
        while True:
            action = await self._work.get()
            if action is None:
                return
            try:
                if isinstance(action, (state.HandOver, state.Exit)):
                    await self._carry_out(action)
                else:
                    async with self._busy:
                        await self._carry_out(action)
            except Exception:  # a bug must not stop the heartbeat
                self.log.exception("pulse: %s failed", type(action).__name__)
                if isinstance(action, state.Activate) and self.sm is not None:
                    self._dispatch(
                        self.sm.activation_finished(
                            action.generation, False, time.monotonic(), "internal error"
                        )
                    )

    async def _carry_out(self, action: state.Action) -> None:
        assert self.sm is not None and self.service is not None
        sm, service = self.sm, self.service
        if isinstance(action, state.Activate):
            gen = action.generation

            def still_wanted() -> bool:
                return sm.generation == gen and sm.phase == state.ACTIVATING

            if not still_wanted():
                return
            why = await service.activate(still_wanted)
            self._dispatch(sm.activation_finished(gen, why is None, time.monotonic(), why or ""))
            sd.notify(f"STATUS={self._status_line()}")
        elif isinstance(action, state.Deactivate):
            await service.deactivate(action.was_active)
            sd.notify(f"STATUS={self._status_line()}")
        elif isinstance(action, state.HandOver):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._handed_over.wait(), action.timeout)
            if not self._handed_over.is_set():
                self.log.info(
                    "partner did not take over within %g s; stopping anyway", action.timeout
                )
        elif isinstance(action, state.Reassert):
            await service.reassert()
        elif isinstance(action, state.StartMonitors):
            if isinstance(service, FosService) and not service.stopping:
                await service.start_monitors()
        elif isinstance(action, state.CheckConnectivity):
            ok = await gateway_reachable(self.log)
            self._dispatch(sm.connectivity(ok, time.monotonic()))
        elif isinstance(action, state.Exit):
            self.exit_code = action.code
            self._done.set()
            self._wake.set()

    # --- children and links ---------------------------------------------------------------
    def _on_lvsd_exit(self, pid: int, code: int) -> None:
        assert self.sm is not None
        if code < 0:
            self.log.info("Child process %d terminated with signal %d", pid, -code)
        else:
            self.log.info("Child process %d exited with status %d", pid, code)
        if self.sm.active:
            self._dispatch(self.sm.child_failed_event(time.monotonic()))
        elif self.sm.phase != state.STOPPING:
            self.log.warning("the warm-standby lvsd is gone; lvsd will be started at takeover")

    def _on_partner_lost(self, name: str) -> None:
        assert self.sm is not None
        self._dispatch(self.sm.monitors_failed(time.monotonic()))

    async def _start_link_watch(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self._link_sock = netlink.link_event_socket()
            loop.add_reader(self._link_sock.fileno(), self._link_event)
        except OSError as exc:
            self.log.warning("no netlink link events (%s); polling link state", exc)
        self._link_check = asyncio.create_task(self._link_poll(), name="links")

    def _link_event(self) -> None:
        assert self._link_sock is not None
        with contextlib.suppress(OSError):
            while self._link_sock.recv(65536):
                pass
        self._link_dirty.set()

    async def _link_poll(self) -> None:
        assert self.identity is not None and self.sm is not None
        ident = self.identity
        watched = [("Primary NIC", ident.own_public)]
        if ident.own_private and ident.own_private != ident.own_public:
            watched.append(("Private NIC", ident.own_private))
        while True:
            down = []
            for name, address in watched:
                try:
                    up = await asyncio.to_thread(netlink.link_is_up, address)
                except Exception as exc:  # netlink trouble must not kill pulse
                    self._warn("links", f"cannot read link state: {exc}")
                    up = None
                if up is False:
                    down.append(name)
            self._dispatch(self.sm.links(down, time.monotonic()))
            self._link_dirty.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._link_dirty.wait(), LINK_POLL)

    # --- signals, control, reload -------------------------------------------------------------
    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._terminate, signum)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)

    def _on_hup(self) -> None:
        """SIGHUP: one reload at a time, kept referenced, its failure logged."""
        task = asyncio.create_task(self._reload_serialised(), name="pulse-reload")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reload_serialised(self) -> None:
        async with self._reload_lock:
            try:
                await self.reload()
            except Exception as exc:  # a reload must never take pulse down
                self.log.error("reloading %s failed: %s; keeping the running configuration",
                               self.options.config_path, exc)

    def _terminate(self, signum: int) -> None:
        assert self.sm is not None
        if self.sm.phase == state.STOPPING:
            return
        sd.notify("STOPPING=1")
        if self.service is not None:
            self.service.stopping = True  # the deactivation must not start a new standby lvsd
        self._dispatch(self.sm.stop(signum, time.monotonic()))

    async def reload(self) -> dict[str, Any]:
        """SIGHUP: reread lvs.cf; keep the running configuration if the file is bad."""
        assert self.sm is not None and self.service is not None
        sd.notify("RELOADING=1")
        try:
            self.log.info("rereading configuration file %s", self.options.config_path)
            try:
                new = await asyncio.to_thread(load, self.options.config_path)
            except ConfigError as exc:
                errors = [str(d) for d in exc.diagnostics if d.is_error]
                self.log.error(
                    "error parsing %s; keeping the running configuration:", self.options.config_path
                )
                for line in errors:
                    self.log.error("%s", line)
                return {"ok": False, "errors": errors}
            except OSError as exc:
                why = f"cannot read {self.options.config_path}: {exc.strerror or exc}"
                self.log.error("%s; keeping the running configuration", why)
                return {"ok": False, "errors": [why]}
            changed = [k for k in RESTART_KEYS if getattr(new, k) != getattr(self.config, k)]
            if changed:
                why = (
                    f"{', '.join(changed)} changed: restart pulse to apply "
                    "(the running configuration is kept)"
                )
                self.log.error("%s", why)
                return {"ok": False, "errors": [why]}
            try:
                codec = self._make_codec(new)
            except StartupError as exc:
                self.log.error("%s; keeping the running configuration", exc)
                return {"ok": False, "errors": [str(exc)]}
            self.config = new
            self.digest = wire.config_digest(new)
            if isinstance(codec, wire.AuthCodec):
                codec.digest = self.digest
            self.codec = codec
            self.sm.reconfigure(timing_of(new), bool(new.backup_active), time.monotonic())
            async with self._busy:
                if isinstance(self.service, LvsService):
                    # choose() may probe nftables: not on the heartbeat's loop
                    self.service.syncd.configure(new, await asyncio.to_thread(_dataplane_name, new))
                await self.service.reload(new, self.sm.active)
            self._wake.set()
            return {"ok": True, "errors": []}
        finally:
            sd.notify("READY=1")
            sd.notify(f"STATUS={self._status_line()}")

    async def _op_reload(self, _request: dict[str, Any]) -> dict[str, Any]:
        async with self._reload_lock:
            return await self.reload()

    def _op_status(self, _request: dict[str, Any]) -> dict[str, Any]:
        if self.sm is None or self.identity is None or self.service is None:
            raise ControlError("pulse is starting")
        sm, ident = self.sm, self.identity
        now = time.monotonic()
        return {
            "role": ident.role,
            "state": "active" if sm.phase == state.ACTIVE else "inactive",
            "phase": sm.phase,
            "since": round(time.time() - (now - sm.since), 3),
            "lvsd_pid": self.service.lvsd_pid(),
            "lvsd_state": self.service.lvsd_state(),
            "link_failure": sm.link_failed,
            "child_failure": sm.child_failed,
            "partner": {
                "address": ident.partner_public,
                "state": sm.partner,
                "heartbeat_age": sm.heartbeat_age(now),
            },
            "heartbeat": {
                "sent": self.sent,
                "received": self.received,
                "rejected": dict(self.rejected),
                "send_errors": {p.name: p.errors for p in self.sockets.paths} if self.sockets else {},
                "config_mismatch": self.config_mismatch,
                "authenticated": bool(self.codec and self.codec.authenticated),
                "keepalive": sm.timing.keepalive,
                "deadtime": sm.timing.deadtime,
            },
            "vips": self.service.floating.addresses(),
            "service": self.config.service,
        }

    def _status_line(self) -> str:
        if self.sm is None or self.identity is None:
            return "starting"
        return f"{self.identity.role}, {self.sm.phase}, partner {self.sm.partner}"

    # --- shutting down ---------------------------------------------------------------------
    async def _shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.sockets is not None:
            for p in self.sockets.paths:
                if p.sock is not None:
                    with contextlib.suppress(Exception):
                        loop.remove_reader(p.sock.fileno())
        if self._link_check is not None:
            self._link_check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._link_check
        if self._link_sock is not None:
            with contextlib.suppress(Exception):
                loop.remove_reader(self._link_sock.fileno())
            self._link_sock.close()
        if self._worker is not None:
            self._work.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
        if self.service is not None:
            await self.service.close()
            if isinstance(self.service, LvsService):
                await self.service.hooks.wait()
        if self.control is not None:
            await self.control.close()
        if self.notify_socket is not None:
            self.notify_socket.close()
        if self.sockets is not None:
            self.sockets.close()


def _dataplane_name(config: Config) -> str | None:
    """The data plane lvsd will pick (same rule, same machine); only needed for syncdaemon."""
    if not config.syncdaemon:
        return None
    try:
        from piranha.dataplane import choose

        backend, _notes = choose(config.dataplane)
        return backend.name
    except Exception:
        return None


def local_addresses() -> set[str]:
    return {a.address for a in netlink.local_addresses()}
