"""Facts about the machine that some checks need, injectable for tests.

Reading lvs.cf never looks anything up itself: host names, service names
and "can this machine tunnel" all come through an `Environment`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Enough for tests and fuzzing; the real environment uses /etc/services.
BUILTIN_SERVICES: dict[str, int] = {
    "ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53,
    "http": 80, "www": 80, "pop3": 110, "sunrpc": 111, "nntp": 119, "imap": 143,
    "imap2": 143, "ldap": 389, "https": 443, "smtps": 465, "submission": 587,
    "ldaps": 636, "imaps": 993, "pop3s": 995, "mysql": 3306, "postgresql": 5432,
}  # fmt: skip


def system_resolve_host(name: str) -> str | None:
    """gethostbyname, as the original did; None when the name does not resolve."""
    try:
        return socket.gethostbyname(name)
    except (OSError, UnicodeError, ValueError):
        return None


def system_service_port(name: str) -> int | None:
    """The tcp port of `name` in /etc/services (getservbyname), or None."""
    try:
        return socket.getservbyname(name, "tcp")
    except (OSError, UnicodeError, ValueError):
        return None


@dataclass
class Environment:
    """How to resolve host and service names, and whether tunnelling can work.

    ``Environment()`` is the real machine (DNS through gethostbyname,
    /etc/services); ``Environment.hermetic()`` knows no host names at all
    and only `BUILTIN_SERVICES`.  ``tunnel_possible`` None means unknown:
    the ``network = tunnel`` check is skipped.
    """

    resolve_host: Callable[[str], str | None] = field(default=system_resolve_host)
    service_port: Callable[[str], int | None] = field(default=system_service_port)
    tunnel_possible: bool | None = None

    @classmethod
    def hermetic(
        cls,
        hosts: Mapping[str, str] | None = None,
        services: Mapping[str, int] | None = None,
        tunnel_possible: bool | None = None,
    ) -> Environment:
        """No DNS, no files: only the given host names and the built-in services."""
        known_hosts = dict(hosts or {})
        known_services = dict(BUILTIN_SERVICES if services is None else services)
        return cls(
            resolve_host=known_hosts.get,
            service_port=known_services.get,
            tunnel_possible=tunnel_possible,
        )
