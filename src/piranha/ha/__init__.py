"""pulse: the heartbeat between the two LVS routers and what the active one holds.

Pure parts (no I/O, exhaustively unit-tested):

* :mod:`.wire` — the heartbeat datagram: the original's 4-byte magics, and
  the authenticated form (HMAC-SHA256, boot id + sequence, lvs.cf digest);
* :mod:`.state` — the state machine: events in, actions out.

The parts that touch the machine:

* :mod:`.heartbeat` — the UDP sockets of the public and private paths;
* :mod:`.addresses` — the floating addresses over netlink, and the record of
  which ones pulse added; :mod:`.arp` and :mod:`.announce` — gratuitous ARP;
* :mod:`.child` and :mod:`.notify` — running lvsd and hearing its READY=1;
* :mod:`.services` — activation and deactivation for virtual servers (lvs)
  and failover services (fos); :mod:`.fos` — the partner watch and gateway
  check; :mod:`.syncd` — connection-state sync (IPVS sync daemon, conntrackd);
* :mod:`.netlink` — local addresses, link state, default gateway;
  :mod:`.keyfile` — reading the heartbeat key;
* :mod:`.pulse` — the daemon that ties them together.

The manual is docs/pulse.md.
"""
