#!/usr/bin/env bash
# Captures VRRP adverts, gratuitous ARPs and unsolicited neighbour advertisements sent by
# keepalived (the independent implementation) so that tests/vrrp_vectors.rs can check our
# codec against them byte for byte.
#
#   sudo bash tests/vrrp/capture-keepalived.sh [OUT_DIR]
#
# Two network namespaces joined by a veth pair, documentation addresses only:
#
#   ipvsd-ka (keepalived)                      ipvsd-cap (tcpdump -w)
#   kav0 02:00:00:00:00:0a  <--- veth --->     kav1 02:00:00:00:00:0b
#   192.0.2.1/24  2001:db8::1/64               192.0.2.2/24  2001:db8::2/64
#   fe80::ff:fe00:a (from the fixed MAC)
#
# keepalived runs three instances with nobody to answer, so each becomes master, sends its
# adverts, gratuitous ARPs / unsolicited NAs, and on SIGTERM the priority-0 advert:
#   VI_51: VRRPv3 IPv4, vrid 51, priority 150, advert_int 1, VIPs 192.0.2.101 and .102
#   VI_52: VRRPv3 IPv6, vrid 52, priority 100, advert_int 0.5, VIP 2001:db8::52
#   VI_53: VRRPv2 IPv4, vrid 53, priority 100, advert_int 1, PASS "secret12", VIP 192.0.2.103
#
# Output: OUT_DIR/keepalived.pcap, OUT_DIR/keepalived.log and, on stdout, the first frame
# of every kind as a Rust `Capture` constant (tests/vrrp_vectors.rs): Ethernet header, IP
# header, message (VRRP, ARP or ICMPv6) as hex, and the source / destination addresses
# (for ARP: sender and target protocol addresses).
set -euo pipefail

OUT=${1:-$(mktemp -d /tmp/ipvsd-ka.XXXXXX)}
mkdir -p "$OUT"
NS_KA=ipvsd-ka
NS_CAP=ipvsd-cap
RUN_SECONDS=${RUN_SECONDS:-9}

if [ "$(id -u)" -ne 0 ]; then
  echo "capture-keepalived: must run as root (network namespaces, raw sockets)" >&2
  exit 1
fi

need=()
command -v keepalived >/dev/null || need+=(keepalived)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

KA_PID= TD_PID=
cleanup() {
  [ -n "$KA_PID" ] && kill "$KA_PID" 2>/dev/null || true
  [ -n "$TD_PID" ] && kill "$TD_PID" 2>/dev/null || true
  ip netns del "$NS_KA" 2>/dev/null || true
  ip netns del "$NS_CAP" 2>/dev/null || true
}
trap cleanup EXIT
cleanup

ip netns add "$NS_KA"
ip netns add "$NS_CAP"
ip link add kav0 netns "$NS_KA" address 02:00:00:00:00:0a type veth \
  peer name kav1 netns "$NS_CAP" address 02:00:00:00:00:0b
for ns in "$NS_KA" "$NS_CAP"; do
  # No DAD: the link-local address (the VRRPv3 IPv6 source) is usable at once.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  ip netns exec "$ns" ip link set lo up
done
ip -n "$NS_KA" addr add 192.0.2.1/24 dev kav0
ip -n "$NS_KA" addr add 2001:db8::1/64 dev kav0 nodad
ip -n "$NS_CAP" addr add 192.0.2.2/24 dev kav1
ip -n "$NS_CAP" addr add 2001:db8::2/64 dev kav1 nodad
ip -n "$NS_CAP" link set kav1 up
ip -n "$NS_KA" link set kav0 up

cat >"$OUT/keepalived.conf" <<'EOF'
global_defs {
    router_id ipvsd_capture
    vrrp_garp_master_delay 2
    vrrp_garp_master_repeat 2
}

vrrp_instance VI_51 {
    version 3
    state BACKUP
    interface kav0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        192.0.2.101/32
        192.0.2.102/32
    }
}

vrrp_instance VI_52 {
    version 3
    state BACKUP
    interface kav0
    virtual_router_id 52
    priority 100
    advert_int 0.5
    virtual_ipaddress {
        2001:db8::52/128
    }
}

vrrp_instance VI_53 {
    version 2
    state BACKUP
    interface kav0
    virtual_router_id 53
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret12
    }
    virtual_ipaddress {
        192.0.2.103/32
    }
}
EOF

ip netns exec "$NS_CAP" tcpdump -i kav1 -U -n -w "$OUT/keepalived.pcap" \
  'ip proto 112 or ip6 proto 112 or arp or (icmp6 and ip6[40] == 136)' 2>"$OUT/tcpdump.log" &
TD_PID=$!
sleep 1

ip netns exec "$NS_KA" keepalived -n -l -D -P -f "$OUT/keepalived.conf" \
  -p "$OUT/keepalived.pid" -r "$OUT/vrrp.pid" >"$OUT/keepalived.log" 2>&1 &
KA_PID=$!
sleep "$RUN_SECONDS"
# SIGTERM: each master instance sends its priority-0 advert (RFC 5798 section 6.4.3).
kill -TERM "$KA_PID"
wait "$KA_PID" || true
KA_PID=
sleep 1
kill -INT "$TD_PID"
wait "$TD_PID" || true
TD_PID=

echo "// keepalived: $(keepalived --version 2>&1 | head -1)"
echo "// capture: $OUT/keepalived.pcap ($(cat "$OUT/tcpdump.log" | tr '\n' ' '))"
python3 - "$OUT/keepalived.pcap" <<'PY'
import struct, sys

data = open(sys.argv[1], "rb").read()
magic = struct.unpack("<I", data[:4])[0]
endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
linktype = struct.unpack(endian + "I", data[20:24])[0]
assert linktype == 1, f"expected Ethernet captures, got linktype {linktype}"
off, frames = 24, []
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
    frames.append(data[off + 16:off + 16 + incl])
    off += 16 + incl

def kind(f):
    ethertype = struct.unpack(">H", f[12:14])[0]
    if ethertype == 0x0806:
        return f"GARP_{f[28]}_{f[29]}_{f[30]}_{f[31]}", "gratuitous ARP"
    if ethertype == 0x0800 and f[23] == 112:
        ihl = (f[14] & 0x0F) * 4
        v = f[14 + ihl:]
        name = "V2" if v[0] >> 4 == 2 else "V3"
        label = "PRIO0" if v[2] == 0 else f"PRIO{v[2]}"
        return f"{name}_IPV4_VRID{v[1]}_{label}", "VRRP over IPv4"
    if ethertype == 0x86DD and f[20] == 112:
        v = f[54:]
        label = "PRIO0" if v[2] == 0 else f"PRIO{v[2]}"
        return f"V3_IPV6_VRID{v[1]}_{label}", "VRRP over IPv6"
    if ethertype == 0x86DD and f[20] == 58 and f[54] == 136:
        return "NA_" + f[62:78].hex(), "unsolicited neighbour advertisement"
    return None, None

import ipaddress

def split(f):
    """(ethernet header, IP header, message, src, dst) of a frame."""
    eth = f[:14]
    ethertype = struct.unpack(">H", f[12:14])[0]
    if ethertype == 0x0806:
        return eth, b"", f[14:42], ipaddress.ip_address(f[28:32]), ipaddress.ip_address(f[38:42])
    if ethertype == 0x0800:
        ihl = (f[14] & 0x0F) * 4
        total = struct.unpack(">H", f[16:18])[0]
        return eth, f[14:14 + ihl], f[14 + ihl:14 + total], ipaddress.ip_address(f[26:30]), ipaddress.ip_address(f[30:34])
    plen = struct.unpack(">H", f[18:20])[0]
    return eth, f[14:54], f[54:54 + plen], ipaddress.ip_address(f[22:38]), ipaddress.ip_address(f[38:54])

seen, counts = {}, {}
for f in frames:
    k, what = kind(f)
    if k is None:
        continue
    counts[k] = counts.get(k, 0) + 1
    if k not in seen:
        seen[k] = (f, what)
expected = [
    "V3_IPV4_VRID51_PRIO150", "V3_IPV4_VRID51_PRIO0", "V3_IPV6_VRID52_PRIO100",
    "V3_IPV6_VRID52_PRIO0", "V2_IPV4_VRID53_PRIO100", "V2_IPV4_VRID53_PRIO0",
    "GARP_192_0_2_101", "GARP_192_0_2_102", "GARP_192_0_2_103",
    "NA_20010db8000000000000000000000052",
]
missing = [k for k in expected if k not in seen]
if missing:
    sys.exit(f"capture-keepalived: not captured: {', '.join(missing)} (see keepalived.log)")
for k, (f, what) in seen.items():
    eth, iph, msg, src, dst = split(f)
    print(f"/// {what}, first of {counts[k]} captured ({len(f)}-byte frame).")
    print(f"pub const {k.upper()}: Capture = Capture {{")
    print(f'    ethernet: "{eth.hex()}",')
    print(f'    ip_header: "{iph.hex()}",')
    print(f'    message: "{msg.hex()}",')
    print(f'    src: "{src}",')
    print(f'    dst: "{dst}",')
    print("};")
PY
