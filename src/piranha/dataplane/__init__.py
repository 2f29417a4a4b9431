"""Data planes: the backends that make the kernel or a userspace proxy carry traffic.

The contract is in :mod:`piranha.dataplane.base`; :func:`choose` picks one.
"""

from __future__ import annotations

import importlib
import importlib.util

from .base import Backend, BackendError, BackendOptions

__all__ = ["BACKENDS", "Backend", "BackendError", "BackendOptions", "choose", "load"]

# name -> "module:Class"; `dataplane = auto` tries them in this order.
BACKENDS: dict[str, str] = {
    "ipvs": "piranha.dataplane.ipvs:IPVSBackend",
    "nftables": "piranha.dataplane.nftables:NftablesBackend",
    "userspace": "piranha.dataplane.userspace:UserspaceBackend",
}


def load(name: str) -> type[Backend] | None:
    """The backend class called ``name``, or None if this build lacks it."""
    target = BACKENDS.get(name)
    if target is None:
        raise KeyError(name)
    module_name, _, attr = target.partition(":")
    if importlib.util.find_spec(module_name) is None:
        return None
    return getattr(importlib.import_module(module_name), attr)


def choose(name: str = "auto") -> tuple[type[Backend], list[str]]:
    """Pick the backend for lvs.cf's ``dataplane``; also return why others were passed over.

    ``auto`` takes the first of ipvs, nftables, userspace that can run here.
    An explicit name that cannot run raises ``RuntimeError`` with the reason.
    """
    notes: list[str] = []
    names = list(BACKENDS) if name == "auto" else [name]
    for candidate in names:
        cls = load(candidate)
        reason = "not built into this piranha" if cls is None else cls.unavailable_reason()
        if reason is None:
            assert cls is not None
            return cls, notes
        notes.append(f"{candidate}: {reason}")
    raise RuntimeError(f"data plane {name!r} cannot run here: " + "; ".join(notes))
