#!/usr/bin/env bash
# tests/vm/checks.sh - health checks drive the kernel table, run INSIDE the VM:
#
#   cargo build && tests/vm/run.sh tests/vm/checks.sh
#
# The seed's LVS-NAT lab with what its operator did by hand automated: a director
# namespace (VIP 203.0.113.7, DIP 198.51.100.7) between a client namespace and two
# real-server namespaces running busybox httpd; the director also serves a local sorry
# page. For on_failure drain, then remove:
#   stop RS1's server  -> within fall x interval + timeout its weight is 0 (removed) in the
#                         kernel and the client reaches only RS2;
#   stop both          -> the sorry server answers;
#   start them again   -> both answer, the sorry server is gone.
set -euo pipefail

# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_require vm-checks

REPO=$(pwd)
IPVSD=$REPO/target/debug/ipvsd
WORK=/tmp/vm-checks
NS=vmc
CFG=$WORK/ipvsd.yaml
LOG=$WORK/ipvsd.log
PID=''
# interval 500ms, timeout 300ms, fall 2, rise 2: detection within 2 x 0.5 + 0.3 s.
DETECT_S=1.3

d() { ip netns exec "$NS-d" "$@"; }
rules() { d ipvsadm -S -n; }

write_config() { # ON_FAILURE
	cat >"$CFG" <<-EOF
		global:
		  node_name: vm-checks
		  reconcile_interval: 1s
		virtual_servers:
		  - name: web
		    address: 203.0.113.7:80
		    scheduler: rr
		    forwarding: nat
		    on_failure: $1
		    sorry_server: {address: 127.0.0.1:80, forwarding: dr}
		    checks:
		      - {type: http, path: /, interval: 500ms, timeout: 300ms, rise: 2, fall: 2}
		    real_servers:
		      - {address: 198.51.100.27:80}
		      - {address: 198.51.100.37:80}
	EOF
}

start_httpd() { # RS
	ip netns exec "$NS-r$1" busybox httpd -f -p "198.51.100.$1:80" -h "$WORK/www$1" </dev/null >/dev/null 2>&1 &
	echo $! >"$WORK/httpd$1.pid"
	local i
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$NS-r$1" ss -Hltn 'sport = :80' | grep . >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

stop_httpd() { # RS
	kill "$(cat "$WORK/httpd$1.pid")"
	rm -f "$WORK/httpd$1.pid"
}

setup() {
	mkdir -p "$WORK"
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
	# The local sorry page: IPVS delivers to the director's own stack, on the VIP's port.
	mkdir -p "$WORK/sorry"
	echo "SORRY" >"$WORK/sorry/index.html"
	d busybox httpd -f -p 80 -h "$WORK/sorry" </dev/null >/dev/null 2>&1 &
	echo $! >"$WORK/sorry.pid"
}

cleanup() {
	set +e
	[[ -z $PID ]] || kill -KILL "$PID" 2>/dev/null
	for f in "$WORK"/*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done
	for n in c d r27 r37; do ip netns del "$NS-$n" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

start_ipvsd() {
	: >"$LOG"
	# Not through d(): $! must be the daemon itself.
	ip netns exec "$NS-d" "$IPVSD" run --config "$CFG" >>"$LOG" 2>&1 &
	PID=$!
}

stop_ipvsd() {
	kill -TERM "$PID"
	wait "$PID" || true
	PID=''
	d ipvsadm -C # the next round starts from an empty table
}

# replies N: N requests from the client, the bodies sorted and counted ("5 RS27 ...").
replies() {
	local i out=''
	for ((i = 0; i < $1; i++)); do
		out+=$(ip netns exec "$NS-c" curl -sS --max-time 2 http://203.0.113.7/ 2>&1 || echo FAIL)$'\n'
	done
	sort <<<"${out%$'\n'}" | uniq -c | awk '{printf "%s %s ", $1, $2}' | sed 's/ $//'
}

# wait_rules EXPECTED SECONDS: until the kernel rules equal EXPECTED; prints the time taken.
wait_rules() {
	local t0=$EPOCHREALTIME i
	for ((i = 0; i < ${2%.*} * 20 + 20; i++)); do
		if [[ $(rules) == "$1" ]]; then
			awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "# reached in %.2fs\n", b - a}'
			return 0
		fi
		sleep 0.05
	done
	expect_eq "kernel rules" "$1" "$(rules)"
}

SVC='-A -t 203.0.113.7:80 -s rr'
BOTH=$(printf '%s\n%s\n%s' "$SVC" '-a -t 203.0.113.7:80 -r 198.51.100.27:80 -m -w 1' '-a -t 203.0.113.7:80 -r 198.51.100.37:80 -m -w 1')

t_both_serve() {
	wait_rules "$BOTH" 5
	expect_eq "replies" "5 RS27 5 RS37" "$(replies 10)"
}

t_rs1_fails() { # ON_FAILURE
	stop_httpd 27
	local want
	if [[ $1 == drain ]]; then
		want=$(printf '%s\n%s\n%s' "$SVC" '-a -t 203.0.113.7:80 -r 198.51.100.27:80 -m -w 0' '-a -t 203.0.113.7:80 -r 198.51.100.37:80 -m -w 1')
	else
		want=$(printf '%s\n%s' "$SVC" '-a -t 203.0.113.7:80 -r 198.51.100.37:80 -m -w 1')
	fi
	wait_rules "$want" "$DETECT_S"
	expect_eq "replies" "10 RS37" "$(replies 10)"
	grep -q 'real server down.*rs=198.51.100.27:80' "$LOG" || { cat "$LOG"; return 1; }
}

t_both_fail_sorry_answers() { # ON_FAILURE
	stop_httpd 37
	local want
	if [[ $1 == drain ]]; then
		want=$(printf '%s\n%s\n%s\n%s' "$SVC" '-a -t 203.0.113.7:80 -r 127.0.0.1:80 -g -w 1' '-a -t 203.0.113.7:80 -r 198.51.100.27:80 -m -w 0' '-a -t 203.0.113.7:80 -r 198.51.100.37:80 -m -w 0')
	else
		want=$(printf '%s\n%s' "$SVC" '-a -t 203.0.113.7:80 -r 127.0.0.1:80 -g -w 1')
	fi
	wait_rules "$want" "$DETECT_S"
	expect_eq "replies" "4 SORRY" "$(replies 4)"
	grep -q 'quorum lost; sorry server in' "$LOG"
}

t_recovery_restores_both() {
	start_httpd 27
	start_httpd 37
	# rise 2 x interval 0.5 s (+ a probe in flight)
	wait_rules "$BOTH" 3
	expect_eq "replies" "5 RS27 5 RS37" "$(replies 10)"
	grep -q 'quorum regained; sorry server out' "$LOG"
}

echo "# vm-checks on $(uname -r)"
if [[ ! -x $IPVSD ]]; then
	echo "not ok - $IPVSD is built (run cargo build first)"
	FAILED=1
	vm_summary vm-checks
	exit 1
fi
setup
for mode in drain remove; do
	write_config "$mode"
	start_ipvsd
	check "$mode: both real servers healthy: 10 requests alternate" t_both_serve
	check "$mode: RS1's server stops: it leaves rotation within fall x interval + timeout" t_rs1_fails "$mode"
	check "$mode: both stop: the sorry server answers" t_both_fail_sorry_answers "$mode"
	check "$mode: both back: rotation restored, sorry server gone" t_recovery_restores_both
	stop_ipvsd
done
vm_summary vm-checks
