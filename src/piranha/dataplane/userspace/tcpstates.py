"""IPVS's TCP state machine, fed with the events a proxy can see.

The kernel walks ``tcp_states[]`` (``ip_vs_proto_tcp.c``) for every packet
of a NAT connection, with separate INPUT (client to server) and OUTPUT
(server to client) tables, the flag that decides being rst > syn > fin >
ack.  A proxy sees no packets, only socket events, which map onto the
packets that cause them:

* the real server accepted our connect: its SYN+ACK (OUTPUT syn) and the
  client's ACK (INPUT ack) -> ESTABLISHED;
* end of file from the client: INPUT fin; from the real server: OUTPUT fin;
* a reset from either side: INPUT rst / OUTPUT rst (a refused or timed-out
  connect to the real server is an OUTPUT rst: the client gets a reset).

Plain data (ack) never changes a state the proxy can reach, so it is not
fed at all.  The resulting states are the kernel's: a client that half-
closes first leaves the entry in CLOSE_WAIT (60 s), a real server that
closes first in FIN_WAIT (the ``tcpfin`` timeout), both in TIME_WAIT.
"""

from __future__ import annotations

_STATES = ("NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
           "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK")
sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA = _STATES

# Rows copied from tcp_states[] (INPUT and OUTPUT halves), columns in _STATES order.
_INPUT = {
    "syn": (sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR),
    "fin": (sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW),
    "ack": (sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES),
    "rst": (sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR),
}
_OUTPUT = {
    "syn": (sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR),
    "fin": (sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW),
    "ack": (sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES),
    "rst": (sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL),
}


def _table(rows: dict[str, tuple[str, ...]]) -> dict[str, dict[str, str]]:
    return {flag: dict(zip(_STATES, row, strict=True)) for flag, row in rows.items()}


INPUT = _table(_INPUT)
OUTPUT = _table(_OUTPUT)


def after(state: str, *packets: tuple[dict[str, dict[str, str]], str]) -> str:
    """The state after ``packets`` (pairs of INPUT/OUTPUT and a flag) in order."""
    for direction, flag in packets:
        state = direction[flag][state]
    return state


# The events, precomputed per state so the proxy does one dict lookup.
CONNECTED = {s: after(s, (OUTPUT, "syn"), (INPUT, "ack")) for s in _STATES}
CLIENT_FIN = {s: INPUT["fin"][s] for s in _STATES}
SERVER_FIN = {s: OUTPUT["fin"][s] for s in _STATES}
CLIENT_RST = {s: INPUT["rst"][s] for s in _STATES}
SERVER_RST = {s: OUTPUT["rst"][s] for s in _STATES}
