"""What the kernel data planes share: talking to nftables, conntrack and the network.

* :mod:`.libnft` — nft's language applied as one transaction (libnftables
  through ctypes, or ``nft -f -``);
* :mod:`.nfnetlink` — nf_tables set elements over netlink, for the changes
  that must be fast (weights, health, re-weighting) and for reading
  counters and dynamic maps back;
* :mod:`.conntrack` — the connection tracking table: reading it, deleting
  entries;
* :mod:`.netinfo` — which interface holds an address, which one reaches a
  real server;
* :mod:`.sysctl`, :mod:`.tunnel` — small facts about the machine;
* :mod:`.conntrackd` — connection-state sync between the two routers.
"""
