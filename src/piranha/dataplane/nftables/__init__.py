"""The nftables data plane: NAT and direct routing in the kernel, without IPVS.

``NftablesBackend`` is what ``dataplane = nftables`` (or ``auto`` on a
kernel without IPVS) runs; ``unsupported_reason(service)`` says why a
service cannot run here (lblc/lblcr, tunnel forwarding, ...), for lvsd
and ``piranha check`` to tell the operator before it matters.
"""

from piranha.table.model import Service

from .backend import NftablesBackend
from .numbering import Numbering
from .plan import Context, check_service


def unsupported_reason(service: Service) -> str | None:
    """Why the nftables data plane cannot program ``service`` (routes aside), or None."""
    from piranha.table.model import Timeouts

    return check_service(service, Context(numbering=Numbering(), timeouts=Timeouts(), routes=_AnyRoute()))


class _AnyRoute(dict):
    """Routes are checked when the backend runs; here every real server counts as reachable."""

    def get(self, key, default=None):  # type: ignore[override]
        from piranha.dataplane.kernel.netinfo import Route

        return Route(device="", gateway=None, local=False)


__all__ = ["NftablesBackend", "unsupported_reason"]
