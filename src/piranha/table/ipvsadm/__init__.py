"""lvsadm's language: the ipvsadm 1.31 command line and its output, on a VirtualTable.

``run(table, argv)`` does to the table what ``ipvsadm argv...`` does to the
kernel's and returns what ipvsadm would print and its exit status (0; 2 for
a refused command line; 255 for a line popt cannot read and for every
refusal by the table; 1 for listing a missing service).  ``argv`` is
without the program name; ``[]`` lists, as a bare ``ipvsadm`` does.
``parse_args`` only parses and validates; ``render_list``/``render_save``
are the ``-L``/``-S`` layouts for the GUI and lvsd, ``render_proc_ip_vs``
the kernel's /proc/net/ip_vs.  Everything is pure: names are looked up only
through the ``resolver`` passed in (none: numbers only, in and out).

Choices where piranha differs from ipvsadm, deliberately:

* Texts are ipvsadm's, word for word, except that the program name in the
  help and in "Try `lvsadm -h' ..." is ours (``prog``), and the version
  line names both the ipvsadm we follow and the piranha version.
* ipvsadm 1.31 wherever 1.26 differs: scheduler flags (``-b``), ``-o``,
  ``--pe``, ``--tun-*``, ``--tun-info``, ``-S`` writing ``--tun-type ipip``
  for tunnelled servers, the 1.31 ``--daemon`` fields, the 1.31 help.
* The table holds IPv4 TCP/UDP/fwmark services: IPv6 and SCTP parse as in
  ipvsadm, but adding them is refused with libipvs' "Operation not
  supported with specified address family" / "Protocol not available";
  tunnel types other than ipip are refused with a message saying so (an
  old kernel would silently ignore the option).
* Services sort by the true numeric order of their addresses (ipvsadm's
  comparator overflows for addresses more than 2^31 apart).
* ``-R`` input may carry ``#`` comments (ipvsadm's comment code never
  triggers), and drops the word "lvsadm" as ipvsadm drops "ipvsadm".
* ``Result.changed`` is True when any command changed the table, counters
  (-Z), timeouts (--set) and sync daemons included.
"""

from .addresses import NumericResolver, Resolver
from .command import Command, DaemonSpec, DestSpec, ServiceSpec, UsageError
from .parse import parse_args
from .proc import render_proc_ip_vs
from .render import ListOptions, largenum, render_list, render_save
from .run import Result, restore_lines, run

__all__ = [
    "Command",
    "DaemonSpec",
    "DestSpec",
    "ListOptions",
    "NumericResolver",
    "Resolver",
    "Result",
    "ServiceSpec",
    "UsageError",
    "largenum",
    "parse_args",
    "render_list",
    "render_proc_ip_vs",
    "render_save",
    "restore_lines",
    "run",
]
