#!/usr/bin/env bash
# tests/vm/daemon.sh - ipvsd on a real IPVS kernel, run INSIDE the VM:
#
#   cargo build && tests/vm/run.sh tests/vm/daemon.sh
#
# The director is a network namespace (IPVS state is per namespace) between a client
# namespace and two real-server namespaces running busybox httpd (the seed's LVS-NAT lab,
# documentation addresses). Checks: ipvsd applies its config and the kernel then holds
# exactly the rules `--dry-run` prints; a service created by hand with ipvsadm is never
# touched (start, reload, stop); drift made with ipvsadm -d/-e/-a is repaired within one
# reconcile interval; a reload edits in place and removes dropped services; an invalid
# reload changes nothing; a stop leaves the rules; a restart adopts them with zero writes;
# statistics read by `ipvsd list` equal `ipvsadm -Ln --stats --exact` after real traffic,
# and so do the ipvsd_ipvs_* counters of /metrics (read with a real OpenMetrics parser,
# examples/openmetrics.rs); drift repairs are counted there; `ipvsd status` shows the
# daemon's view.
set -euo pipefail

# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_require vm-daemon

REPO=$(pwd)
IPVSD=$REPO/target/debug/ipvsd
OPENMETRICS=$REPO/target/debug/examples/openmetrics
WORK=/tmp/vm-daemon
NS=vmd
CFG=$WORK/ipvsd.yaml
LOG=$WORK/ipvsd.log
PID=''
FOREIGN=$'-A -t 192.0.2.200:22 -s sh\n-a -t 192.0.2.200:22 -r 198.51.100.200:22 -g -w 5'

d() { ip netns exec "$NS-d" "$@"; }
# metric SELECTOR...: the values in the daemon's /metrics (127.0.0.1:9180 in the director
# namespace), parsed by a real OpenMetrics parser.
metric() {
	local text
	text=$(d curl -sf --max-time 5 http://127.0.0.1:9180/metrics) || { echo "no answer from /metrics"; return 1; }
	printf '%s\n' "$text" | "$OPENMETRICS" "$@"
}
ipvsd() { d "$IPVSD" "$@"; }
saved() { d ipvsadm -S -n; }
# The kernel table without the hand-made foreign service.
owned_rules() { saved | grep -v -F '192.0.2.200:22' || true; }

write_config() { # SCHEDULER W1 W2 [EXTRA_SERVICE_YAML]
	cat >"$CFG" <<-EOF
		global:
		  node_name: vm-director
		  reconcile_interval: 1s
		  log_level: debug
		virtual_servers:
		  - name: web
		    address: 203.0.113.7:80
		    scheduler: $1
		    forwarding: nat
		    real_servers:
		      - {address: 198.51.100.27:80, weight: $2}
		      - {address: 198.51.100.37:80, weight: $3}
		  - name: mark3
		    fwmark: 3
		    scheduler: sh
		    scheduler_flags: [sh-port]
		    forwarding: dr
		    real_servers:
		      - {address: 198.51.100.27}
		      - {address: 198.51.100.37, upper_threshold: 100, lower_threshold: 10}
		${4:-}
	EOF
}

# Starts the daemon in the background. Call it from the main shell, not inside `check`
# (which runs in a subshell), so that PID stays known.
start_ipvsd() {
	: >"$LOG"
	# Not through the d() function: $! must be the daemon itself, not a subshell.
	ip netns exec "$NS-d" env RUST_BACKTRACE=1 "$IPVSD" run --config "$CFG" >>"$LOG" 2>&1 &
	PID=$!
}

# wait_log TEXT [SECONDS]: wait until the daemon's log has TEXT.
wait_log() {
	local i
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		grep -qF -- "$1" "$LOG" && return 0
		sleep 0.1
	done
	printf 'no %s in the log:\n%s\n' "$1" "$(cat "$LOG")"
	return 1
}

# wait_rules EXPECTED [SECONDS]: wait until the owned rules equal EXPECTED.
wait_rules() {
	local i
	for ((i = 0; i < ${2:-5} * 10; i++)); do
		[[ $(owned_rules) == "$1" ]] && return 0
		sleep 0.1
	done
	expect_eq "kernel rules" "$1" "$(owned_rules)"
}

stop_ipvsd() {
	[[ -n $PID ]] || return 0
	kill -TERM "$PID"
	local rc=0
	wait "$PID" || rc=$?
	PID=''
	return "$rc"
}

setup() {
	mkdir -p "$WORK"
	ip netns add "$NS-c"
	ip netns add "$NS-d"
	local r
	for r in 27 37; do ip netns add "$NS-r$r"; done
	for n in c d r27 r37; do ip -n "$NS-$n" link set lo up; done
	# client <-> director (VIP side)
	ip -n "$NS-d" link add dc type veth peer name eth0 netns "$NS-c"
	ip -n "$NS-d" addr add 203.0.113.7/24 dev dc
	ip -n "$NS-d" link set dc up
	ip -n "$NS-c" addr add 203.0.113.57/24 dev eth0
	ip -n "$NS-c" link set eth0 up
	# director <-> real servers over a bridge (DIP side)
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
		ip netns exec "$NS-r$r" busybox httpd -f -p "198.51.100.$r:80" -h "$WORK/www$r" </dev/null >/dev/null 2>&1 &
		echo $! >"$WORK/httpd$r.pid"
	done
	d sysctl -q -w net.ipv4.ip_forward=1
	# A service that is not ipvsd's: made by hand, must never be touched.
	d ipvsadm -A -t 192.0.2.200:22 -s sh
	d ipvsadm -a -t 192.0.2.200:22 -r 198.51.100.200:22 -g -w 5
	write_config rr 1 1
}

cleanup() {
	set +e
	[[ -z $PID ]] || kill -KILL "$PID" 2>/dev/null
	for r in 27 37; do [[ -f $WORK/httpd$r.pid ]] && kill "$(cat "$WORK/httpd$r.pid")" 2>/dev/null; done
	for n in c d r27 r37; do ip netns del "$NS-$n" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

# ------------------------------------------------------------------ checks
# --dry-run output as ipvsadm -S prints it: ipvsadm's save omits thresholds.
dry_run_as_ipvsadm() { ipvsd run --dry-run --config "$CFG" | sed -E 's/ -x [0-9]+ -y [0-9]+$//'; }

t_start_applies_exactly_the_dry_run() {
	wait_log "ipvs table converged"
	expect_eq "kernel rules vs --dry-run" "$(dry_run_as_ipvsadm)" "$(owned_rules)"
	local th
	th=$(d ipvsadm -Ln --thresholds)
	grep -qE '^  -> 198\.51\.100\.37:0 +100 +10 ' <<<"$th" || { printf 'thresholds not applied:\n%s\n' "$th"; return 1; }
}

t_export_equals_dry_run() {
	expect_eq "export --owned vs --dry-run" "$(ipvsd run --dry-run --config "$CFG")" \
		"$(ipvsd export --owned --config "$CFG")"
}

t_foreign_untouched() {
	expect_eq "foreign service" "$FOREIGN" "$(saved | grep -F '192.0.2.200:22')"
}

t_status_marks_owned_services() {
	local out
	out=$(ipvsd list --config "$CFG")
	expect_line "$out" "TCP  203.0.113.7:80 rr  [ipvsd: web]"
	expect_line "$out" "FWM  3 sh (sh-port)  [ipvsd: mark3]"
	expect_line "$out" "TCP  192.0.2.200:22 sh"
	# Apart from the marks, the listing is ipvsadm's.
	expect_eq "status vs ipvsadm -Ln" "$(d ipvsadm -Ln)" "$(sed -E 's/  \[ipvsd: [^]]*\]$//' <<<"$out")"
}

t_traffic_and_stats() {
	local i seen=''
	for ((i = 0; i < 10; i++)); do
		seen+=$(ip netns exec "$NS-c" curl -sS --max-time 5 http://203.0.113.7/)
	done
	# rr: the 10 requests alternate between the two real servers.
	[[ $seen == RS27RS37RS27RS37RS27RS37RS27RS37RS27RS37 || $seen == RS37RS27RS37RS27RS37RS27RS37RS27RS37RS27 ]] ||
		{ echo "replies: $seen"; return 1; }
	# The kernel folds per-cpu counters into the totals every 2 s.
	sleep 2.5
	local ours theirs
	ours=$(ipvsd list --stats --exact --config "$CFG" | sed -E 's/  \[ipvsd: [^]]*\]$//')
	theirs=$(d ipvsadm -Ln --stats --exact)
	expect_eq "status --stats --exact vs ipvsadm -Ln --stats --exact" "$theirs" "$ours"
	grep -qE '^TCP  203\.0\.113\.7:80 +10 ' <<<"$ours" || { printf '10 connections expected:\n%s\n' "$ours"; return 1; }
	# /metrics: the same five counters of the service as ipvsadm's line, and the
	# connections of its two real servers adding up to them.
	local svc='local_address="203.0.113.7",local_port="80",proto="TCP"' got want
	got=$(metric "ipvsd_ipvs_connections{$svc}" "ipvsd_ipvs_incoming_packets{$svc}" \
		"ipvsd_ipvs_outgoing_packets{$svc}" "ipvsd_ipvs_incoming_bytes{$svc}" \
		"ipvsd_ipvs_outgoing_bytes{$svc}" "sum:ipvsd_ipvs_backend_connections{$svc}" | tr '\n' ' ')
	want=$(awk '$1 == "TCP" && $2 == "203.0.113.7:80" { print $3, $4, $5, $6, $7, $3 }' <<<"$theirs")
	expect_eq "/metrics ipvs counters vs ipvsadm --stats --exact" "$want " "$got"
	expect_eq "web in /metrics is named" 1 "$(metric "count:ipvsd_ipvs_connections{virtual_server=\"web\",$svc}")"
	expect_eq "fwmark service labels" 1 \
		"$(metric 'count:ipvsd_ipvs_connections{virtual_server="mark3",local_address="",local_port="0",proto="FWM",local_mark="3"}')"
	expect_eq "the foreign service is not exported" 0 "$(metric 'count:ipvsd_ipvs_connections{local_address="192.0.2.200"}')"
}

t_status_shows_the_daemon_view() {
	local out line
	out=$(ipvsd status --config "$CFG")
	expect_line "$out" "TCP  203.0.113.7:80 rr  [web] quorum up (alive weight 2/1)"
	for r in 27 37; do
		line=$(grep -F " 198.51.100.$r:80 " <<<"$out") || { printf 'no RS%s in\n%s\n' "$r" "$out"; return 1; }
		# -> ADDR Forward Weight(kernel) ActiveConn InActConn Health Drain
		expect_eq "RS$r columns" "-> 198.51.100.$r:80 Masq 1 up -" \
			"$(awk '{ print $1, $2, $3, $4, $7, $8 }' <<<"$line")"
	done
	grep -q '"kernel_error": null' <<<"$(ipvsd status --json --config "$CFG")"
}

t_drift_repairs_are_counted() {
	local n
	n=$(metric ipvsd_reconcile_drift_repairs)
	# One deleted destination, one weight and one scheduler edited, one destination added:
	# four repairs (a pass may repair two at once only if they fall in one interval).
	awk -v n="$n" 'BEGIN { exit !(n >= 3) }' || { echo "drift repairs: $n"; return 1; }
}

t_drift_deleted_dest_is_put_back() {
	local want
	want=$(owned_rules)
	d ipvsadm -d -t 203.0.113.7:80 -r 198.51.100.27:80
	wait_rules "$want" 3
	wait_log "ipvs drift repaired"
}

t_drift_edited_weight_is_put_back() {
	local want
	want=$(owned_rules)
	d ipvsadm -e -t 203.0.113.7:80 -r 198.51.100.37:80 -m -w 7
	d ipvsadm -E -f 3 -s rr
	wait_rules "$want" 3
}

t_drift_added_dest_is_removed() {
	local want
	want=$(owned_rules)
	d ipvsadm -a -t 203.0.113.7:80 -r 198.51.100.99:80 -m -w 1
	wait_rules "$want" 3
	t_foreign_untouched
}

t_reload_edits_in_place_and_removes_dropped_services() {
	# wrr 1:2, the fwmark service dropped, a UDP service added.
	write_config wrr 1 2
	sed -i '/- name: mark3/,$d' "$CFG"
	cat >>"$CFG" <<-EOF
		  - name: dns
		    address: 203.0.113.7:53
		    protocol: udp
		    scheduler: rr
		    forwarding: nat
		    real_servers:
		      - {address: 198.51.100.27:53}
	EOF
	kill -HUP "$PID"
	wait_log "config reloaded"
	wait_rules "$(dry_run_as_ipvsadm)" 5
	t_foreign_untouched
	# In place: the web service was edited, not deleted and re-added.
	if grep -q 'op="del_service" service=tcp 203.0.113.7:80' "$LOG"; then
		echo "the web service was deleted"
		return 1
	fi
	grep -q 'op="edit_service" service=tcp 203.0.113.7:80' "$LOG"
	grep -q 'op="del_service" service=fwmark 3' "$LOG"
	# The traffic follows: wrr 1:2 over 9 requests is exactly 3 for RS27 and 6 for RS37.
	local i out n27=0 n37=0
	for ((i = 0; i < 9; i++)); do
		out=$(ip netns exec "$NS-c" curl -sS --max-time 5 http://203.0.113.7/)
		case $out in RS27) n27=$((n27 + 1)) ;; RS37) n37=$((n37 + 1)) ;; *) echo "answer: $out"; return 1 ;; esac
	done
	expect_eq "wrr 1:2 split over 9 requests" "RS27=3 RS37=6" "RS27=$n27 RS37=$n37"
}

t_invalid_reload_changes_nothing() {
	local before good
	before=$(saved)
	good=$(cat "$CFG")
	printf 'virtual_servers:\n  - address: 203.0.113.7:80\n    bogus: 1\n' >"$CFG"
	kill -HUP "$PID"
	wait_log "reload rejected"
	sleep 1.5 # more than one reconcile interval
	expect_eq "kernel table after an invalid reload" "$before" "$(saved)"
	kill -0 "$PID"
	echo "$good" >"$CFG"
}

t_stop_leaves_the_rules() {
	grep -qF "ipvsd stopped" "$LOG"
	expect_eq "kernel table after stop" "$BEFORE" "$(saved)"
}

t_restart_adopts_with_zero_writes() {
	wait_log "ipvs table converged"
	grep -qF "ipvs table converged writes=0" "$LOG" || { cat "$LOG"; return 1; }
	if grep -q "ipvs change applied" "$LOG"; then
		echo "writes on restart:"
		grep "ipvs change applied" "$LOG"
		return 1
	fi
	expect_eq "kernel table after restart" "$BEFORE" "$(saved)"
}

t_remove_rules_on_exit() {
	expect_eq "kernel table after stop with remove_rules_on_exit" "$FOREIGN" "$(saved)"
}

# ------------------------------------------------------------------ run
echo "# vm-daemon on $(uname -r)"
if [[ ! -x $IPVSD || ! -x $OPENMETRICS ]]; then
	echo "not ok - $IPVSD and $OPENMETRICS are built (run cargo build && cargo build --example openmetrics first)"
	FAILED=1
	vm_summary vm-daemon
	exit 1
fi
setup
start_ipvsd
check "start: the kernel holds exactly the rules --dry-run prints" t_start_applies_exactly_the_dry_run
check "export --owned prints the same rules as --dry-run" t_export_equals_dry_run
check "a service made by hand with ipvsadm is untouched by start" t_foreign_untouched
check "status lists like ipvsadm -Ln and marks owned services" t_status_marks_owned_services
check "rr: 10 requests through the NAT VIP alternate RS27/RS37; list --stats --exact equals ipvsadm's" t_traffic_and_stats
check "ipvsd status shows the daemon's table with kernel weights and health" t_status_shows_the_daemon_view
check "drift: ipvsadm -d of an owned destination is put back within an interval" t_drift_deleted_dest_is_put_back
check "drift: ipvsadm -e/-E on owned rules is put back" t_drift_edited_weight_is_put_back
check "drift: a destination added by hand to an owned service is removed" t_drift_added_dest_is_removed
check "drift: /metrics counts the repairs" t_drift_repairs_are_counted
check "reload to wrr 1:2: edits in place, removes dropped services, leaves foreign ones; 9 requests split 3:6" t_reload_edits_in_place_and_removes_dropped_services
check "reload with an invalid config changes nothing" t_invalid_reload_changes_nothing
BEFORE=$(saved)
STOP_RC=0
stop_ipvsd || STOP_RC=$?
check "stop (SIGTERM) exits 0" test "$STOP_RC" -eq 0
check "stop (SIGTERM) leaves every rule in place" t_stop_leaves_the_rules
start_ipvsd
check "restart adopts the rules with zero writes" t_restart_adopts_with_zero_writes
stop_ipvsd || true
sed -i 's/^global:$/global:\n  remove_rules_on_exit: true/' "$CFG"
start_ipvsd
wait_log "ipvs table converged" >/dev/null || true
stop_ipvsd || true
check "remove_rules_on_exit removes only owned services" t_remove_rules_on_exit
vm_summary vm-daemon
