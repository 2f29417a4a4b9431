"""``piranha send-arp [-i dev] src_ip_addr src_hw_addr targ_ip_addr tar_hw_addr`` — send_arp.

One ARP reply frame announcing ``src_ip_addr`` at ``src_hw_addr``, sent to
Ethernet ``tar_hw_addr`` on ``dev`` (default eth0), byte for byte what
send_arp sent.  ``targ_ip_addr`` is accepted and ignored, as it always was.
"""

from __future__ import annotations

import socket
import sys

from piranha.ha.arp import parse_mac, send_arp_frame, send_frames

USAGE = (
    "send_arp: sends out custom ARP packet.\n"
    "\tusage: piranha send-arp [-i dev] src_ip_addr src_hw_addr targ_ip_addr tar_hw_addr\n"
)
DEFAULT_DEVICE = "eth0"


def _address(text: str) -> str:
    try:
        return socket.inet_ntoa(socket.inet_aton(text))
    except OSError:
        pass
    try:
        return socket.gethostbyname(text)
    except OSError:
        raise ValueError(f"send_arp: unknown host {text}") from None


def main(argv: list[str]) -> int:
    args = list(argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if len(args) != 4 and (len(args) != 6 or args[0] != "-i"):
        print(USAGE, file=sys.stderr)
        return 1
    device = DEFAULT_DEVICE
    if args[0] == "-i":
        device, args = args[1], args[2:]
    src_ip, src_hw, _targ_ip, tar_hw = args
    try:
        src_mac = parse_mac(src_hw)
        dst_mac = parse_mac(tar_hw)
        ip = _address(src_ip)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        send_frames(device, [send_arp_frame(ip, src_mac, dst_mac)])
    except PermissionError:
        print("send_arp: socket: Operation not permitted (run as root)", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"send_arp: sendto {device}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
