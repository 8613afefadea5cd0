#!/usr/bin/env python3
"""Writes fuzz/seeds/ from the captured vectors the tests already hold:
VRRP packets keepalived sent (tests/vrrp_vectors.rs), IPVS netlink replies and datagrams
ipvsadm exchanged with a real kernel (tests/netlink_codec_support/vectors.rs), and the
shipped config files (conf/*.yaml). Run from the repository root; the output is committed.
"""
import re, struct, pathlib, shutil

root = pathlib.Path(__file__).resolve().parent.parent
seeds = root / "fuzz" / "seeds"

def consts(path):
    text = (root / path).read_text()
    out = {}
    for m in re.finditer(r'pub const (\w+): (?:&str|Capture) = (concat!\((.*?)\);|"([0-9a-f]*)";|Capture \{(.*?)\};)', text, re.S):
        name = m.group(1)
        if m.group(3) is not None:
            out[name] = "".join(re.findall(r'"([0-9a-f]*)"', m.group(3)))
        elif m.group(4) is not None:
            out[name] = m.group(4)
        else:
            fields = dict(re.findall(r'(\w+): "([^"]*)"', m.group(5)))
            out[name] = fields
    return out

def write(kind, name, data):
    d = seeds / kind
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)

# VRRP: selector byte 0 = IPv4 datagram with header; 1 = IPv6 message (hop limit 255).
for name, c in consts("tests/vrrp_vectors.rs").items():
    if not isinstance(c, dict) or not name.startswith("V"):
        continue
    if c["ip_header"].startswith("45"):
        write("vrrp", name.lower(), b"\x00" + bytes.fromhex(c["ip_header"] + c["message"]))
    else:
        write("vrrp", name.lower(), b"\x01" + bytes.fromhex(c["message"]))

# Netlink: first byte = number of pending requests; then the datagram. Replies and requests (genl
# payloads) get a netlink header of the IPVS family (0x20 in ipvsd::fuzzing), seq 1.
for name, hexs in consts("tests/netlink_codec_support/vectors.rs").items():
    data = bytes.fromhex(hexs)
    if name.endswith("_DATAGRAM"):
        write("netlink", name.lower(), b"\x01" + data)
    else:
        msg = struct.pack("=IHHII", 16 + len(data), 0x20, 2, 1, 0) + data
        write("netlink", name.lower(), b"\x01" + msg)

for f in sorted((root / "conf").glob("*.yaml")):
    shutil.copyfile(f, seeds / "config" / f.name)
