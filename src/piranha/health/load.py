"""Load monitoring: ask a real server its load average, turn it into a weight.

``load_monitor`` in lvs.cf (nanny's ``-U``):

* ``uptime``: ``<rsh_command> <ip> uptime`` (lvsd replaced "uptime" by the
  remote shell, nanny appended "uptime" for ``rsh``/``ssh``);
* ``rup``: ``rup <ip>`` (needs rstatd on the real server);
* ``ruptime``: ``ruptime <ip>`` (needs rwhod);
* ``rsh`` / ``ssh`` (given to a standalone nanny): as ``uptime``;
* ``none`` or unset: off; anything else: ``<command> <ip>``.

Their outputs, all understood (the original found the number after the
first ``load`` and a colon, so ruptime's ``load 0.07, ...`` never parsed)::

    uptime   " 10:14:07 up 3 days,  2:03,  2 users,  load average: 0.00, 0.01, 0.05"
    BSD      "10:14  up 3 days,  2:03, 2 users, load averages: 1.20 1.10 0.90"
    rup      "host1     up  3 days,  2:03,     load average: 0.00, 0.00, 0.00"
    ruptime  "host1       up  3+04:05,     2 users,  load 0.07, 0.03, 0.01"

The 1-minute average is used, in the weight formula of the original
(piranha-behaviour.md §4.4), which can only raise a weight above the
configured one (up to ``scale`` times), never lower it.
"""

from __future__ import annotations

import math
import re

from piranha.runtime.process import split_command

# "load" (or "load average(s)"), then a colon or blanks, then the number.
_LOAD = re.compile(r"\bload(?:\s+averages?)?(?:\s*:\s*|\s+)(\d+(?:\.\d+)?)(?=[,\s]|$)", re.I)


def load_monitoring(load_monitor: str | None) -> bool:
    """Whether ``load_monitor`` asks for load monitoring at all."""
    return load_monitor is not None and load_monitor.strip() not in ("", "none")


def load_argv(load_monitor: str | None, rsh_command: str, address: str) -> list[str] | None:
    """The command that asks `address` for its load, or None when monitoring is off."""
    if not load_monitoring(load_monitor):
        return None
    assert load_monitor is not None
    if load_monitor == "uptime":
        return [*split_command(rsh_command), address, "uptime"]
    argv = [*split_command(load_monitor), address]
    if load_monitor in ("rsh", "ssh"):
        argv.append("uptime")
    return argv


def parse_load(output: str) -> float | None:
    """The 1-minute load average in `output`, or None if there is none.

    ruptime lists every host it knows: the first line that carries a load
    is taken (it is asked about one host).
    """
    for line in output.splitlines():
        found = _LOAD.search(line)
        if found:
            return float(found.group(1))
    return None


def load_weight(current: int, weight: int, load: float, scale: int) -> int | None:
    """The original's adjustment of `current` for `load`; None = leave the weight alone.

    load < 1: current + (weight/2)·∛(1 − load), at most scale·weight;
    load > 1: current − (weight/2)·∛(load − 1), at least weight;
    applied only when it moves the weight by a quarter of `weight` or more.
    """
    if load < 0 or load == 1.0:
        return None
    half = weight / 2
    if load < 1.0:
        new = int(current + half * math.pow(1.0 - load, 1 / 3))
        new = min(new, scale * weight)
    else:
        new = int(current - half * math.pow(load - 1.0, 1 / 3))
        new = max(new, weight)
    if abs(new - current) >= weight / 4 and new != current:
        return new
    return None
