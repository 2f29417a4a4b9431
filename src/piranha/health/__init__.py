"""nanny: health checks of real servers, from one to ten thousand in one process.

    spec = monitor_spec(config, virtual, server)   # lvs.cf -> check settings
    monitor = Monitor(spec, actions, log=log)      # actions: admit / set_weight / withdraw
    task = asyncio.create_task(monitor.run())      # one task per real server per service
    monitor.force("down" | "up" | "resume")        # nanny's SIGUSR1 / SIGUSR2 / SIGHUP
    monitor.reconfigure(new_spec)                  # reload: keeps the up/down state
    monitor.status()                               # lvsd's `health` entry

Layout: ``spec`` (what to check), ``probe`` (nanny's start-up
normalisation), ``expect`` and ``regex`` (judging replies), ``checks/``
(TCP/TLS, UDP, external program), ``load`` (load monitoring), ``machine``
(the state machine, no I/O), ``monitor`` (the task), ``limits`` (socket and
child-process bounds).  The manual is docs/nanny.md.
"""

from piranha.runtime.limits import raise_fd_limit

from .monitor import Actions, CheckHook, Monitor, cancel_and_wait
from .spec import CheckSpec, MonitorSpec, failover_monitor_spec, monitor_spec

__all__ = [
    "Actions",
    "CheckHook",
    "CheckSpec",
    "Monitor",
    "MonitorSpec",
    "cancel_and_wait",
    "failover_monitor_spec",
    "monitor_spec",
    "raise_fd_limit",
]
