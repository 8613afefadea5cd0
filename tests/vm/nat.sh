#!/usr/bin/env bash
# tests/vm/nat.sh - the seed's LVS-NAT lab driven by the shipped conf/lvs-nat.yaml and
# conf/lvs-nat-wrr.yaml, run INSIDE the VM:
#
#   cargo build && tests/vm/run.sh tests/vm/nat.sh
#
# A client namespace (203.0.113.57), the director (VIP 203.0.113.7 on its client side, DIP
# 198.51.100.7 on a bridge to the real servers, who route through it), RS27 and RS37
# running busybox httpd, and the director's local sorry page (sorry_server 127.0.0.1:80).
#   1. rr: 10 requests alternate RS27/RS37;
#   2. reload to lvs-nat-wrr.yaml (weights 1:2): 9 requests split 3:6;
#   3. RS27's server stops: once its checks fail (fall 3 x 2 s + timeout) it has weight 0
#      in the kernel and every request is answered by RS37, none fails;
#   4. RS37 stops too: the sorry page answers;
#   5. both start again: the split is back and the sorry server is gone.
# Asserted with curl and `ipvsadm -S -n`.
set -euo pipefail

# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_require vm-nat

REPO=$(pwd)
IPVSD=$REPO/target/debug/ipvsd
WORK=/tmp/vm-nat
NS=vmn
CFG=$WORK/ipvsd.yaml
LOG=$WORK/ipvsd.log
# fall 3 x interval 2 s + timeout 1 s, plus a reconcile and slack under TCG.
DETECT_S=12

d() { ip netns exec "$NS-d" "$@"; }
rules() { d ipvsadm -S -n; }

setup() {
	mkdir -p "$WORK"
	local n r
	for n in c d r27 r37; do
		ip netns add "$NS-$n"
		ip -n "$NS-$n" link set lo up
	done
	ip -n "$NS-d" link add dc type veth peer name eth0 netns "$NS-c"
	ip -n "$NS-d" addr add 203.0.113.7/24 dev dc
	ip -n "$NS-d" link set dc up
	ip -n "$NS-c" addr add 203.0.113.57/24 dev eth0
	ip -n "$NS-c" link set eth0 up
	ip -n "$NS-d" link add br0 type bridge
	ip -n "$NS-d" addr add 198.51.100.7/24 dev br0
	ip -n "$NS-d" link set br0 up
	for r in 27 37; do
		ip -n "$NS-d" link add "r$r" type veth peer name eth0 netns "$NS-r$r"
		ip -n "$NS-d" link set "r$r" master br0 up
		ip -n "$NS-r$r" addr add "198.51.100.$r/24" dev eth0
		ip -n "$NS-r$r" link set eth0 up
		ip -n "$NS-r$r" route add default via 198.51.100.7
		mkdir -p "$WORK/www$r"
		echo "RS$r" >"$WORK/www$r/index.html"
		start_httpd "$r"
	done
	d sysctl -q -w net.ipv4.ip_forward=1
	mkdir -p "$WORK/sorry"
	echo "SORRY" >"$WORK/sorry/index.html"
	d busybox httpd -f -p 80 -h "$WORK/sorry" </dev/null >/dev/null 2>&1 &
	echo $! >"$WORK/sorry.pid"
	cp "$REPO/conf/lvs-nat.yaml" "$CFG"
}

start_httpd() { # RS (ip netns exec becomes the server: $! is its pid)
	ip netns exec "$NS-r$1" busybox httpd -f -p "198.51.100.$1:80" -h "$WORK/www$1" </dev/null >/dev/null 2>&1 &
	echo $! >"$WORK/httpd$1.pid"
}
stop_httpd() { kill "$(cat "$WORK/httpd$1.pid")" 2>/dev/null || true; }

cleanup() {
	set +e
	[[ -f $WORK/pid ]] && kill -KILL "$(cat "$WORK/pid")" 2>/dev/null
	for f in "$WORK"/httpd*.pid "$WORK/sorry.pid"; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done
	for n in c d r27 r37; do ip netns del "$NS-$n" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

# replies N: the answers to N requests, counted ("5 RS27 5 RS37"); FAIL for a failed one.
replies() {
	local i out=''
	for ((i = 0; i < $1; i++)); do
		out+=$(ip netns exec "$NS-c" curl -sS --max-time 3 http://203.0.113.7/ 2>/dev/null || echo FAIL)$'\n'
	done
	sort <<<"${out%$'\n'}" | uniq -c | awk '{printf "%s %s ", $1, $2}' | sed 's/ $//'
}

wait_rules() { # EXPECTED SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[[ $(rules) == "$1" ]] && return 0
		sleep 0.1
	done
	expect_eq "kernel rules" "$1" "$(rules)"
}

SVC_RR='-A -t 203.0.113.7:80 -s rr'
SVC_WRR='-A -t 203.0.113.7:80 -s wrr'
rs() { echo "-a -t 203.0.113.7:80 -r 198.51.100.$1:80 -m -w $2"; }
SORRY='-a -t 203.0.113.7:80 -r 127.0.0.1:80 -g -w 1'

t_rr_alternates() {
	for ((i = 0; i < 300; i++)); do grep -qF "ipvs table converged" "$LOG" && break; sleep 0.1; done
	wait_rules "$(printf '%s\n%s\n%s' "$SVC_RR" "$(rs 27 1)" "$(rs 37 1)")" 10
	local seen='' i
	for ((i = 0; i < 10; i++)); do seen+="$(ip netns exec "$NS-c" curl -sS --max-time 3 http://203.0.113.7/) "; done
	echo "answers: $seen"
	[[ $seen == "RS27 RS37 RS27 RS37 RS27 RS37 RS27 RS37 RS27 RS37 " || $seen == "RS37 RS27 RS37 RS27 RS37 RS27 RS37 RS27 RS37 RS27 " ]]
}

t_reload_wrr_splits() {
	cp "$REPO/conf/lvs-nat-wrr.yaml" "$CFG"
	ip netns exec "$NS-d" "$IPVSD" reload --config "$CFG"
	wait_rules "$(printf '%s\n%s\n%s' "$SVC_WRR" "$(rs 27 1)" "$(rs 37 2)")" 5
	expect_eq "9 requests with wrr 1:2" "3 RS27 6 RS37" "$(replies 9)"
}

t_rs27_fails() {
	stop_httpd 27
	wait_rules "$(printf '%s\n%s\n%s' "$SVC_WRR" "$(rs 27 0)" "$(rs 37 2)")" "$DETECT_S"
	expect_eq "replies once RS27 is out" "10 RS37" "$(replies 10)"
	grep -q 'real server down.*rs=198.51.100.27:80' "$LOG"
}

t_both_fail_sorry() {
	stop_httpd 37
	wait_rules "$(printf '%s\n%s\n%s\n%s' "$SVC_WRR" "$SORRY" "$(rs 27 0)" "$(rs 37 0)")" "$DETECT_S"
	expect_eq "replies with no real server" "4 SORRY" "$(replies 4)"
	grep -q 'quorum lost; sorry server in' "$LOG"
}

t_recovery() {
	start_httpd 27
	start_httpd 37
	# rise 2 x interval 2 s, plus slack.
	wait_rules "$(printf '%s\n%s\n%s' "$SVC_WRR" "$(rs 27 1)" "$(rs 37 2)")" "$DETECT_S"
	expect_eq "9 requests after recovery" "3 RS27 6 RS37" "$(replies 9)"
	grep -q 'quorum regained; sorry server out' "$LOG"
}

echo "# vm-nat on $(uname -r)"
if [[ ! -x $IPVSD ]]; then
	echo "not ok - $IPVSD is built (run cargo build first)"
	FAILED=1
	vm_summary vm-nat
	exit 1
fi
setup
: >"$LOG"
ip netns exec "$NS-d" "$IPVSD" run --config "$CFG" >>"$LOG" 2>&1 &
echo $! >"$WORK/pid"
check "conf/lvs-nat.yaml, rr: 10 requests alternate RS27/RS37" t_rr_alternates
check "reload to conf/lvs-nat-wrr.yaml (ipvsd reload): 9 requests split 3:6 (wrr 1:2)" t_reload_wrr_splits
check "RS27 fails: weight 0 in the kernel within fall x interval + timeout, RS37 answers every request" t_rs27_fails
check "RS37 fails too: the sorry server is in and answers" t_both_fail_sorry
check "both recover: wrr 1:2 again, the sorry server is gone" t_recovery
vm_summary vm-nat
