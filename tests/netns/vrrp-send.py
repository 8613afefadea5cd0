#!/usr/bin/env python3
"""Sends one hand-made VRRPv3 IPv4 advertisement (IP protocol 112) to 224.0.0.18, for
tests/netns/vrrp.sh: valid or damaged on purpose (truncated, wrong TTL, other VRID, bad
checksum). Run inside the client's network namespace.

  vrrp-send.py --src 192.0.2.100 [--ttl 255] [--vrid 51] [--priority 254]
               [--interval-ms 1000] [--truncate N] [--bad-checksum] [--count 1]

The advert (RFC 5798 section 5.1) lists one address, 192.0.2.50; its checksum covers the
IPv4 pseudo-header (section 5.2.8).
"""
import argparse
import socket
import struct
import sys

IPPROTO_VRRP = 112
GROUP = "224.0.0.18"


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def advert(src: str, vrid: int, prio: int, interval_cs: int, bad_sum: bool) -> bytes:
    addrs = socket.inet_aton("192.0.2.50")
    body = struct.pack("!BBBBH", 0x31, vrid, prio, 1, interval_cs & 0x0FFF)
    msg = body + b"\0\0" + addrs
    pseudo = socket.inet_aton(src) + socket.inet_aton(GROUP) + struct.pack(
        "!BBH", 0, IPPROTO_VRRP, len(msg))
    csum = checksum(pseudo + msg)
    if bad_sum:
        csum ^= 0x5A5A
    return body + struct.pack("!H", csum) + addrs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--ttl", type=int, default=255)
    ap.add_argument("--vrid", type=int, default=51)
    ap.add_argument("--priority", type=int, default=254)
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--truncate", type=int, default=0, help="send only the first N bytes")
    ap.add_argument("--bad-checksum", action="store_true")
    ap.add_argument("--count", type=int, default=1)
    a = ap.parse_args()
    pkt = advert(a.src, a.vrid, a.priority, a.interval_ms // 10, a.bad_checksum)
    if a.truncate:
        pkt = pkt[: a.truncate]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, a.ttl)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(a.src))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    for _ in range(max(1, min(a.count, 100))):
        s.sendto(pkt, (GROUP, 0))
    print("sent %d x %d bytes: %s" % (a.count, len(pkt), pkt.hex()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
