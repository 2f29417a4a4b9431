"""The health checker's verdicts, delivered to lvsd (piranha.health's ``Actions`` protocol).

One `SlotActions` per monitored real server.  Each call updates the
server's slot and lets lvsd bring the table in line (a standby's table
too: its data plane is programmed before its VIPs arrive).
"""

from __future__ import annotations

from typing import Protocol

from .slots import ServerSlot, ServiceState


class SlotOwner(Protocol):
    """What SlotActions needs from lvsd."""

    def slot_admitted(self, state: ServiceState, slot: ServerSlot, weight: int) -> None: ...
    def slot_weight(self, state: ServiceState, slot: ServerSlot, weight: int) -> None: ...
    def slot_withdrawn(self, state: ServiceState, slot: ServerSlot, quiesce: bool) -> None: ...


class SlotActions:
    def __init__(self, owner: SlotOwner, state: ServiceState, slot: ServerSlot) -> None:
        self.owner = owner
        self.state = state
        self.slot = slot

    async def admit(self, weight: int) -> None:
        """``[ active ] making <ip>:<port> available``: add it, or re-weight it if quiesced."""
        self.owner.slot_admitted(self.state, self.slot, weight)

    async def set_weight(self, weight: int) -> None:
        """Slow start or load monitoring moved the weight."""
        self.owner.slot_weight(self.state, self.slot, weight)

    async def withdraw(self, quiesce: bool) -> None:
        """``[inactive] shutting down <ip>:<port>``: weight 0 (quiesce) or out of the table."""
        self.owner.slot_withdrawn(self.state, self.slot, quiesce)
