#!/usr/bin/env bash
# tests/vm/hitless.sh - no request fails while ipvsd is reloaded, killed and restarted, or
# handed a broken config; run INSIDE the VM:
#
#   cargo build && tests/vm/run.sh tests/vm/hitless.sh
#
# The seed's LVS-NAT lab (client, director, three real servers running busybox httpd, HTTP
# checks every 500 ms). A client namespace sends requests through the VIP in a bounded loop
# (one new connection each, at most LOOP_MAX requests or LOOP_S seconds) while:
#   (a) the config is reloaded with RS47 added and RS37 removed (RS37 goes to weight 0
#       and is deleted once its connections have ended: global.removal_grace);
#   (b) the daemon is SIGKILLed and started again (the kernel keeps forwarding; the new
#       daemon adopts the table with zero writes);
#   (c) a broken config is handed over by SIGHUP (rejected, nothing changes).
# Each phase: zero failed requests, and `ipvsadm -S -n` before/after as expected.
set -euo pipefail

# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_require vm-hitless

REPO=$(pwd)
IPVSD=$REPO/target/debug/ipvsd
WORK=/tmp/vm-hitless
NS=vmh
CFG=$WORK/ipvsd.yaml
LOG=$WORK/ipvsd.log
LOOP_MAX=2000
LOOP_S=60

d() { ip netns exec "$NS-d" "$@"; }
rules() { d ipvsadm -S -n; }

write_config() { # REAL_SERVER_OCTETS...
	{
		cat <<-EOF
			global:
			  node_name: vm-hitless
			  reconcile_interval: 1s
			virtual_servers:
			  - name: web
			    address: 203.0.113.7:80
			    scheduler: rr
			    forwarding: nat
			    checks:
			      - {type: http, path: /, interval: 500ms, timeout: 300ms, rise: 2, fall: 2}
			    real_servers:
		EOF
		local r
		for r in "$@"; do echo "      - {address: 198.51.100.$r:80}"; done
	} >"$CFG"
}

# The daemon's pid is kept in a file: the checks run in subshells (`check`), and (b)
# starts a new daemon from one.
start_ipvsd() {
	ip netns exec "$NS-d" "$IPVSD" run --config "$CFG" >>"$LOG" 2>&1 &
	echo $! >"$WORK/pid"
}
pid() { cat "$WORK/pid"; }

# wait_log TEXT [COUNT] [SECONDS]: until the log has TEXT at least COUNT times.
wait_log() {
	local i
	for ((i = 0; i < ${3:-10} * 10; i++)); do
		(($(grep -cF -- "$1" "$LOG") >= ${2:-1})) && return 0
		sleep 0.1
	done
	printf 'no %s (x%s) in the log:\n%s\n' "$1" "${2:-1}" "$(tail -n 30 "$LOG")"
	return 1
}

wait_rules() { # EXPECTED [SECONDS]
	local i
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		[[ $(rules) == "$1" ]] && return 0
		sleep 0.1
	done
	expect_eq "kernel rules" "$1" "$(rules)"
}

# The client loop, in the background inside the client namespace: batches of 20 requests
# per curl (a URL range; each a new connection), every one printing the body (RSxx) and
# `HTTP CODE` (`HTTP 000` when the request failed); bounded by LOOP_MAX requests and LOOP_S
# seconds, stopped early by the stop file.
client_start() { # NAME
	rm -f "$WORK/stop"
	ip netns exec "$NS-c" bash -c '
		end=$((SECONDS + $2))
		for ((n = 0; n < $1 && SECONDS < end; n += 20)); do
			[[ -e $3 ]] && break
			curl -s -H "Connection: close" --max-time 3 -w "HTTP %{http_code}\n" "http://203.0.113.7/?[1-20]"
		done' client "$LOOP_MAX" "$LOOP_S" "$WORK/stop" >"$WORK/$1.out" 2>&1 &
	echo $! >"$WORK/client"
}

client_stop() {
	touch "$WORK/stop"
	local c
	c=$(cat "$WORK/client")
	while kill -0 "$c" 2>/dev/null; do sleep 0.1; done
}

# report NAME: "N requests, F failed, answers: ..." (printed) and the status 0 only if none
# failed and at least 40 were made.
report() {
	local f=$WORK/$1.out n fails
	n=$(grep -c '^HTTP ' "$f" || true)
	fails=$(grep '^HTTP ' "$f" | grep -vcx 'HTTP 200' || true)
	echo "# $1: $n requests, $fails failed; answers: $(grep '^RS' "$f" | sort | uniq -c | tr -s ' \n' ' ')" |
		tee -a "$WORK/figures"
	((n >= 40 && fails == 0))
}

setup() {
	mkdir -p "$WORK"
	: >"$LOG"
	ip netns add "$NS-c"
	ip netns add "$NS-d"
	local r
	for r in 27 37 47; do ip netns add "$NS-r$r"; done
	for n in c d r27 r37 r47; do ip -n "$NS-$n" link set lo up; done
	ip -n "$NS-d" link add dc type veth peer name eth0 netns "$NS-c"
	ip -n "$NS-d" addr add 203.0.113.7/24 dev dc
	ip -n "$NS-d" link set dc up
	ip -n "$NS-c" addr add 203.0.113.57/24 dev eth0
	ip -n "$NS-c" link set eth0 up
	ip -n "$NS-d" link add br0 type bridge
	ip -n "$NS-d" addr add 198.51.100.7/24 dev br0
	ip -n "$NS-d" link set br0 up
	for r in 27 37 47; do
		ip -n "$NS-d" link add "r$r" type veth peer name eth0 netns "$NS-r$r"
		ip -n "$NS-d" link set "r$r" master br0 up
		ip -n "$NS-r$r" addr add "198.51.100.$r/24" dev eth0
		ip -n "$NS-r$r" link set eth0 up
		ip -n "$NS-r$r" route add default via 198.51.100.7
		mkdir -p "$WORK/www$r"
		echo "RS$r" >"$WORK/www$r/index.html"
		ip netns exec "$NS-r$r" busybox httpd -f -p "198.51.100.$r:80" -h "$WORK/www$r" </dev/null >/dev/null 2>&1 &
		echo $! >"$WORK/httpd$r.pid"
	done
	d sysctl -q -w net.ipv4.ip_forward=1
}

cleanup() {
	set +e
	touch "$WORK/stop"
	[[ -f $WORK/pid ]] && kill -KILL "$(pid)" 2>/dev/null
	for r in 27 37 47; do [[ -f $WORK/httpd$r.pid ]] && kill "$(cat "$WORK/httpd$r.pid")" 2>/dev/null; done
	for n in c d r27 r37 r47; do ip netns del "$NS-$n" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

dry_run() { "$IPVSD" run --dry-run --config "$CFG"; }

# ------------------------------------------------------------------ phases
t_start() {
	wait_log "ipvs table converged"
	wait_rules "$(dry_run)"
	# Both servers pass their checks (rise 2) before the load starts.
	sleep 1.5
}

t_reload_add_and_remove() {
	local before after
	before=$(rules)
	client_start reload
	sleep 2
	write_config 27 47
	after=$(dry_run)
	kill -HUP "$(pid)"
	wait_log "reload applied"
	# RS37 first goes to weight 0; it is deleted once its connections have ended.
	wait_log "removed real server drained; deleting it"
	wait_rules "$after" 5
	sleep 3
	client_stop
	report reload
	# RS47 answered after the reload; RS37 is out of the table.
	grep -q '^RS47' "$WORK/reload.out" || { echo "RS47 never answered"; return 1; }
	[[ $before == *198.51.100.37:80* && $after != *198.51.100.37:80* && $after == *198.51.100.47:80* ]]
	# The unchanged check of RS27 kept running: one check started, one stopped.
	grep -q 'reload applied.*checks_kept=1 checks_started=1 checks_stopped=1' "$LOG" ||
		{ grep 'reload applied' "$LOG"; return 1; }
}

t_kill_and_restart() {
	local before
	before=$(rules)
	client_start restart
	sleep 2
	local old
	old=$(pid)
	kill -KILL "$old"
	while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
	sleep 2 # the kernel forwards on its own meanwhile
	expect_eq "rules while ipvsd is down" "$before" "$(rules)"
	local converged
	converged=$(grep -cF "ipvs table converged" "$LOG")
	start_ipvsd
	wait_log "ipvs table converged" $((converged + 1))
	sleep 2
	client_stop
	report restart
	expect_eq "rules after the restart" "$before" "$(rules)"
	# Adopted, not rewritten.
	grep -F "ipvs table converged" "$LOG" | tail -n 1 | grep 'writes=0' >/dev/null ||
		{ grep -F "ipvs table converged" "$LOG"; return 1; }
}

t_broken_config() {
	local before good
	before=$(rules)
	good=$(cat "$CFG")
	client_start broken
	sleep 2
	printf 'virtual_servers:\n  - address: 203.0.113.7:80\n    real_servers: [{address: nonsense}]\n' >"$CFG"
	kill -HUP "$(pid)"
	wait_log "reload rejected"
	sleep 3
	client_stop
	report broken
	expect_eq "rules after a rejected reload" "$before" "$(rules)"
	kill -0 "$(pid)"
	echo "$good" >"$CFG"
}

# ------------------------------------------------------------------ run
echo "# vm-hitless on $(uname -r)"
if [[ ! -x $IPVSD ]]; then
	echo "not ok - $IPVSD is built (run cargo build first)"
	FAILED=1
	vm_summary vm-hitless
	exit 1
fi
setup
write_config 27 37
start_ipvsd
check "start: the kernel holds the configured table" t_start
check "(a) reload adding RS47 and removing RS37 under load: no failed request" t_reload_add_and_remove
check "(b) SIGKILL and restart under load: no failed request, table adopted with 0 writes" t_kill_and_restart
check "(c) a broken config by SIGHUP under load: no failed request, nothing changed" t_broken_config
cat "$WORK/figures" 2>/dev/null || true
vm_summary vm-hitless
