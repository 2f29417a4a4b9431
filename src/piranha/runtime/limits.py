"""Process limits a load balancer needs lifted."""

from __future__ import annotations

import contextlib
import resource


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (no privilege needed); return the soft limit.

    A proxied TCP connection holds two descriptors, a listening port one, a
    running health check one; the usual soft limit of 1024 would cap lvsd at
    a few hundred connections or checks.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and target > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
