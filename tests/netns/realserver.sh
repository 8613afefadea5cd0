#!/usr/bin/env bash
# `ipvsd realserver setup|teardown` in a network namespace (sysctls and addresses are per
# namespace): the VIPs go on lo as /32 and /128, arp_ignore/arp_announce become 1/2 on
# `all` and `lo`; a second setup changes nothing; teardown of one VIP of two keeps the
# sysctls, of the last one puts the values from before setup back (here deliberately not
# the kernel defaults) and removes the state file.
#
#   sudo tests/netns/realserver.sh
#
# Prints `ok - ...` / `not ok - ...` lines and `realserver-netns: N passed, M failed`.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 2
REPO=$(pwd)
IPVSD=${IPVSD:-$REPO/target/debug/ipvsd}
NS=ivrs-$$
WORK=$(mktemp -d /tmp/ivt-rs.XXXXXX)
STATE=$WORK/state
PASSED=0 FAILED=0

ok() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
notok() { FAILED=$((FAILED + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && printf '#   %s\n' "$2"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else notok "$d" "failed: $*"; fi; }
finish() { ip netns del "$NS" 2>/dev/null; rm -rf "$WORK"; }
trap finish EXIT

if [ "$(id -u)" -ne 0 ]; then
  echo "not ok - must run as root (network namespaces)"
  echo "realserver-netns: 0 passed, 1 failed"
  exit 1
fi
if [ ! -x "$IPVSD" ]; then
  (cd "$REPO" && cargo build -q) || { echo "not ok - cargo build"; echo "realserver-netns: 0 passed, 1 failed"; exit 1; }
fi

n() { ip netns exec "$NS" "$@"; }
sysctl_is() { [ "$(n cat "/proc/sys/net/ipv4/conf/$1")" = "$2" ]; }
# (Output captured first: with pipefail, `ip | grep -q` fails when grep's early exit
# makes ip die of SIGPIPE.)
has_addr() {
  local out
  out=$(n ip -o addr show dev lo) || return 1
  [[ $out == *" $1 "* ]]
}
lacks_addr() { ! has_addr "$1"; }

ip netns add "$NS"
n ip link set lo up
# Values before setup that are not the defaults, so "restored" cannot pass by accident.
n sh -c 'echo 2 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 1 > /proc/sys/net/ipv4/conf/all/arp_announce'

out=$(n "$IPVSD" realserver setup --vip 192.0.2.7 --vip 2001:db8::7 --state "$STATE" 2>&1)
check "setup exits 0" test $? -eq 0
echo "$out" | sed 's/^/# /'
check "192.0.2.7/32 is on lo" has_addr 192.0.2.7/32
check "2001:db8::7/128 is on lo" has_addr 2001:db8::7/128
check "all/arp_ignore is 1" sysctl_is all/arp_ignore 1
check "lo/arp_ignore is 1" sysctl_is lo/arp_ignore 1
check "all/arp_announce is 2" sysctl_is all/arp_announce 2
check "lo/arp_announce is 2" sysctl_is lo/arp_announce 2
check "setup recorded the values before it" grep -qx 'sysctl net/ipv4/conf/all/arp_ignore 2' "$STATE"

out=$(n "$IPVSD" realserver setup --vip 192.0.2.7 --vip 2001:db8::7 --state "$STATE" 2>&1)
check "setup again exits 0" test $? -eq 0
check "setup again changes no sysctl" eval '! grep -q -- "->" <<<"$out"'
check "setup again reports the VIP already on lo" grep -qF "192.0.2.7/32 already on lo" <<<"$out"
check "setup again keeps the first recorded values" grep -qx 'sysctl net/ipv4/conf/all/arp_ignore 2' "$STATE"
check "the VIP is on lo once" test "$(n ip -o addr show dev lo | grep -cF ' 192.0.2.7/32 ')" -eq 1

out=$(n "$IPVSD" realserver teardown --vip 2001:db8::7 --state "$STATE" 2>&1)
check "teardown of one VIP exits 0" test $? -eq 0
check "2001:db8::7 is gone" lacks_addr 2001:db8::7/128
check "192.0.2.7 stays" has_addr 192.0.2.7/32
check "the sysctls stay while a VIP is left" sysctl_is all/arp_ignore 1

out=$(n "$IPVSD" realserver teardown --vip 192.0.2.7 --state "$STATE" 2>&1)
check "teardown of the last VIP exits 0" test $? -eq 0
echo "$out" | sed 's/^/# /'
check "192.0.2.7 is gone" lacks_addr 192.0.2.7/32
check "all/arp_ignore is back to 2" sysctl_is all/arp_ignore 2
check "all/arp_announce is back to 1" sysctl_is all/arp_announce 1
check "lo/arp_ignore is back to 0" sysctl_is lo/arp_ignore 0
check "lo/arp_announce is back to 0" sysctl_is lo/arp_announce 0
check "the state file is removed" test ! -e "$STATE"

out=$(n "$IPVSD" realserver setup --vip 192.0.2.7 --dev nope0 --state "$STATE" 2>&1)
rc=$?
check "a missing device fails with exit 4" test "$rc" -eq 4
check "and says which device" grep -qF 'nope0' <<<"$out"

echo "realserver-netns: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
