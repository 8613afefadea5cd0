#!/usr/bin/env bash
# tests/vm/privileges.sh - least privilege on a real IPVS kernel, run INSIDE the VM:
#
#   cargo build && tests/vm/run.sh tests/vm/privileges.sh
#
# ipvsd runs as an unprivileged user with exactly CAP_NET_ADMIN and CAP_NET_RAW as ambient
# capabilities, started the way packaging/systemd/ipvsd.service starts it (User=ipvsd,
# AmbientCapabilities=, CapabilityBoundingSet=, NoNewPrivileges=yes; here with util-linux
# setpriv), and does everything a director does. Namespaces: a switch (two bridges), the
# director d (eth0 client side 203.0.113.2, eth1 server side 198.51.100.2), a client c, a
# keepalived peer p (VRRP backup, priority 100: the independent witness of d's adverts),
# real servers r27 and r37 (busybox httpd, gateway 198.51.100.2). The config: a NAT
# service on the VIP 203.0.113.7:80 (wrr; a tcp check and an exec check whose program
# records who it runs as), a VRRP v3 instance on eth0 owning the VIP (priority
# 150), the admin API on loopback.
# Checks: the process's uid/gid and capability sets (/proc/PID/status); the kernel table
# equals --dry-run; d is VRRP master, holds the VIP, and its adverts keep the keepalived
# peer in backup; the client learnt the VIP's MAC from d's gratuitous ARP and is served
# by both real servers; the exec check ran as the daemon's user with no capability; a
# stopped real server gets weight 0 in the kernel; a SIGHUP reload changes a weight; a
# repeated netlink error and the exec checks' "cannot switch user" warning are logged once;
# SIGTERM releases the VIP with a priority-0 advert (the peer takes over within its skew
# time, before its master-down interval) and exits 0. Negative control: the same daemon
# without the capabilities warns that they are missing, keeps running, counts its failed
# netlink passes, and leaves the kernel table empty and the VIP unassigned.
set -euo pipefail

# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_require vm-privileges

REPO=$(pwd)
IPVSD=$REPO/target/debug/ipvsd
WORK=/tmp/vm-privs
NS=vmp
CFG=$WORK/ipvsd.yaml
LOG=$WORK/ipvsd.log
EXEC_OUT=$WORK/out/exec-identity
USER_NAME=ipvsd
USER_ID=990
CAPS=0000000000003000 # bit 12 CAP_NET_ADMIN, bit 13 CAP_NET_RAW
PID=''
# A priority-0 advert makes the peer (priority 100) master after its skew time,
# (256 - 100) / 256 s = 0.61 s; without it, only after the master-down interval,
# 3 x 1 s + 0.61 s counted from d's last advert, so at least 2.61 s after the stop.
RELEASE_MS=2000

x() { # NS CMD...: run in namespace $NS-NS
	local n=$1
	shift
	ip netns exec "$NS-$n" "$@"
}

setup() {
	mkdir -p "$WORK/out"
	chmod 0755 "$WORK"
	# The unprivileged user, as the packages create it (no home, no login shell).
	echo "$USER_NAME:x:$USER_ID:$USER_ID:ipvsd:/nonexistent:/usr/sbin/nologin" >>/etc/passwd
	echo "$USER_NAME:x:$USER_ID:" >>/etc/group
	chown "$USER_NAME:$USER_NAME" "$WORK/out"
	# The control socket's directory, as systemd's RuntimeDirectory=ipvsd makes it.
	mkdir -p -m 0750 "$WORK/run"
	chown "$USER_NAME:$USER_NAME" "$WORK/run"
	for n in sw d c p r27 r37; do
		ip netns add "$NS-$n"
		ip -n "$NS-$n" link set lo up
	done
	ip -n "$NS-sw" link add brc type bridge
	ip -n "$NS-sw" link add brs type bridge
	ip -n "$NS-sw" link set brc up
	ip -n "$NS-sw" link set brs up
	plug() { # NS IFNAME BRIDGE ADDR: a veth from the namespace's IFNAME to the bridge.
		ip -n "$NS-sw" link add "$1-$2" type veth peer name "$2" netns "$NS-$1"
		ip -n "$NS-sw" link set "$1-$2" master "$3" up
		ip -n "$NS-$1" addr add "$4" dev "$2"
		ip -n "$NS-$1" link set "$2" up
	}
	plug d eth0 brc 203.0.113.2/24
	plug d eth1 brs 198.51.100.2/24
	x d sysctl -qw net.ipv4.ip_forward=1
	plug c eth0 brc 203.0.113.100/24
	# The client records gratuitous ARP in its neighbour table.
	x c sysctl -qw net.ipv4.conf.all.arp_accept=1
	x c sysctl -qw net.ipv4.conf.eth0.arp_accept=1
	plug p eth0 brc 203.0.113.3/24
	for r in 27 37; do
		plug "r$r" eth0 brs "198.51.100.$r/24"
		ip -n "$NS-r$r" route add default via 198.51.100.2
		mkdir -p "$WORK/www$r"
		echo "RS$r" >"$WORK/www$r/index.html"
		start_httpd "$r"
	done
	# The exec check's program: world-readable, owned by root, records who runs it (the
	# checks of both real servers run it, maybe at once: one temporary file each).
	cat >"$WORK/identity-check" <<-EOF
		#!/bin/bash
		{
		  echo "uid \$(id -u)"
		  echo "gid \$(id -g)"
		  grep -E '^(Cap(Inh|Prm|Eff|Amb)|NoNewPrivs):' /proc/\$\$/status
		} >$EXEC_OUT.\$\$ && mv -f $EXEC_OUT.\$\$ $EXEC_OUT
	EOF
	chmod 0755 "$WORK/identity-check"
	write_config 1
	cat >"$WORK/keepalived.conf" <<-EOF
		global_defs {
		    router_id peer
		}
		vrrp_instance VI_priv {
		    version 3
		    state BACKUP
		    interface eth0
		    virtual_router_id 61
		    priority 100
		    advert_int 1
		    virtual_ipaddress {
		        203.0.113.7/24
		    }
		}
	EOF
}

start_httpd() { # R
	# Not through x(): $! must be httpd itself, not a subshell.
	ip netns exec "$NS-r$1" busybox httpd -f -p "198.51.100.$1:80" -h "$WORK/www$1" </dev/null >/dev/null 2>&1 &
	echo $! >"$WORK/httpd$1.pid"
}

write_config() { # WEIGHT_OF_RS27
	cat >"$CFG" <<-EOF
		global:
		  node_name: vm-privs
		  admin_listen: 127.0.0.1:9180
		  control_socket: $WORK/run/ipvsd.sock
		  reconcile_interval: 1s
		virtual_servers:
		  - name: web
		    address: 203.0.113.7:80
		    scheduler: wrr
		    forwarding: nat
		    checks:
		      - {type: tcp, interval: 1s, timeout: 500ms, rise: 1, fall: 2}
		      - {type: exec, program: $WORK/identity-check, interval: 1s, timeout: 900ms, rise: 1, fall: 2}
		    real_servers:
		      - {address: 198.51.100.27:80, weight: $1}
		      - {address: 198.51.100.37:80}
		vrrp_instances:
		  - name: VI_priv
		    interface: eth0
		    vrid: 61
		    version: 3
		    priority: 150
		    advert_interval: 1s
		    virtual_addresses:
		      - 203.0.113.7/24
		    garp:
		      repeat: 3
		      delay: 200ms
	EOF
	chmod 0644 "$CFG"
}

cleanup() {
	set +e
	[[ -z $PID ]] || kill -KILL "$PID" 2>/dev/null
	[[ -z ${KA_PID:-} ]] || kill "$KA_PID" 2>/dev/null
	for r in 27 37; do [[ -f $WORK/httpd$r.pid ]] && kill "$(cat "$WORK/httpd$r.pid")" 2>/dev/null; done
	for n in sw d c p r27 r37; do ip netns del "$NS-$n" 2>/dev/null; done
}
trap cleanup EXIT

# start_ipvsd WITH_CAPS(yes|no): the daemon as $USER_NAME in the director's namespace,
# as systemd starts it: with the capabilities only as ambient ones (and in the bounding
# set), no new privileges. $! is the daemon itself: ip netns exec and setpriv exec it.
start_ipvsd() {
	local caps=()
	if [[ $1 == yes ]]; then
		# shellcheck disable=SC2054 # setpriv's capability lists are comma-separated
		caps=(--inh-caps=-all,+net_admin,+net_raw --ambient-caps=-all,+net_admin,+net_raw
			--bounding-set=-all,+net_admin,+net_raw)
	else
		caps=(--inh-caps=-all --bounding-set=-all)
	fi
	: >"$LOG"
	ip netns exec "$NS-d" setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups \
		"${caps[@]}" --no-new-privs -- "$IPVSD" run --config "$CFG" >>"$LOG" 2>&1 &
	PID=$!
}

stop_ipvsd() { # exit status of the daemon
	local rc=0
	kill -TERM "$PID"
	wait "$PID" || rc=$?
	PID=''
	return "$rc"
}

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# wait_for SECONDS CMD...: until CMD succeeds (polled every 50 ms).
wait_for() {
	local end=$(($(now_ms) + $1 * 1000))
	shift
	while (($(now_ms) < end)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

wait_log() { # TEXT [SECONDS]
	wait_for "${2:-10}" grep -qF -- "$1" "$LOG" && return 0
	printf 'no %s in the log:\n%s\n' "$1" "$(cat "$LOG")"
	return 1
}

# status_field PID FIELD: a line's value from /proc/PID/status.
status_field() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# metric NAME_WITH_LABELS: its value in the daemon's /metrics (exact series name).
metric() {
	local text
	text=$(x d curl -sf --max-time 5 http://127.0.0.1:9180/metrics) || { echo "no answer from /metrics"; return 1; }
	awk -v s="$1" '$1 == s { print $2; found = 1 } END { exit !found }' <<<"$text" ||
		{ echo "no series $1 in /metrics"; return 1; }
}

has_addr() { # NS DEVICE ADDR
	local out
	out=$(ip -n "$NS-$1" -o addr show dev "$2")
	[[ $out == *" $3/"* ]]
}

saved() { x d ipvsadm -S -n; }
rs_weight() { # REAL_SERVER: its weight in the kernel
	x d ipvsadm -S -n | awk -v r="$1" '$1 == "-a" && $5 == r { print $8 }'
}

# Predicates for wait_for (which needs a command evaluated on each poll).
table_is() { [[ $(saved) == "$1" ]]; }
weight_is() { [[ $(rs_weight "$1") == "$2" ]]; }
metric_is() { [[ $(metric "$1") == "$2" ]]; }

dry_run() { x d "$IPVSD" run --dry-run --config "$CFG"; }

# note TEXT: a line for the summary (check shows the output of failed checks only).
note() {
	echo "# $*" | tee -a "$WORK/notes"
}

logs() {
	echo "--- ipvsd log (tail)"
	tail -n 30 "$LOG"
}

# ------------------------------------------------------------------ checks: negative control
failed_passes_at_least() { # N
	local n
	n=$(metric 'ipvsd_reconcile_runs_total{result="failed"}') && ((n >= $1))
}

t_nocaps_warns() {
	wait_log 'capability missing' 15
	grep -F 'capability missing' "$LOG" | grep -F 'CAP_NET_ADMIN' >/dev/null || { logs; return 1; }
	grep -F 'capability missing' "$LOG" | grep -F 'CAP_NET_RAW' >/dev/null || { logs; return 1; }
	expect_eq "CapEff without capabilities" 0000000000000000 "$(status_field "$PID" CapEff)"
	note "daemon without capabilities: $(grep -E '^(Uid|Cap(Prm|Eff|Amb)):' "/proc/$PID/status" | tr '\t\n' '  ')"
}

t_nocaps_keeps_running_and_counts_failures() {
	# Several reconcile intervals (1 s) and VRRP master-down intervals.
	wait_for 15 failed_passes_at_least 3 || { metric 'ipvsd_reconcile_runs_total{result="failed"}'; logs; return 1; }
	local n
	n=$(metric ipvsd_netlink_errors_total)
	((n >= 3)) || { echo "netlink errors: $n"; return 1; }
	kill -0 "$PID" || { echo "the daemon exited"; logs; return 1; }
	# The same error on every pass is logged once (the passes are counted above).
	expect_eq "'ipvs not converged' lines" 1 "$(grep -c 'ipvs not converged; retrying' "$LOG")"
	grep -qF 'Operation not permitted' "$LOG" || { logs; return 1; }
	# VRRP cannot open its raw socket: it retries, it does not crash.
	grep -qF 'vrrp instance cannot start; retrying' "$LOG" || { logs; return 1; }
	if grep -qE 'panicked|RUST_BACKTRACE' "$LOG"; then logs; return 1; fi
}

t_nocaps_kernel_untouched() {
	expect_eq "kernel table without CAP_NET_ADMIN" "" "$(saved)"
	! has_addr d eth0 203.0.113.7 || { echo "the VIP was added without CAP_NET_ADMIN"; return 1; }
}

# ------------------------------------------------------------------ checks: the real run
t_identity() {
	# Until the log has its first line, $PID may still be ip or setpriv (running as root).
	wait_log 'ipvsd started' 30
	expect_eq "Uid (real, effective, saved, fs)" "$USER_ID $USER_ID $USER_ID $USER_ID" \
		"$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$PID/status")"
	expect_eq "Gid (real, effective, saved, fs)" "$USER_ID $USER_ID $USER_ID $USER_ID" \
		"$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "/proc/$PID/status")"
	note "daemon: $(grep -E '^(Uid|Gid|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' "/proc/$PID/status" | tr '\t\n' '  ')"
}

t_capabilities() {
	# ipvsd clears its ambient and inheritable sets at start; give it that moment.
	wait_log 'ipvsd started'
	expect_eq "CapEff" "$CAPS" "$(status_field "$PID" CapEff)"
	expect_eq "CapPrm" "$CAPS" "$(status_field "$PID" CapPrm)"
	expect_eq "CapInh" 0000000000000000 "$(status_field "$PID" CapInh)"
	expect_eq "CapAmb" 0000000000000000 "$(status_field "$PID" CapAmb)"
	expect_eq "CapBnd" "$CAPS" "$(status_field "$PID" CapBnd)"
	expect_eq "NoNewPrivs" 1 "$(status_field "$PID" NoNewPrivs)"
	if grep -qF 'capability missing' "$LOG"; then logs; return 1; fi
	if grep -qF 'cannot clear a capability set' "$LOG"; then logs; return 1; fi
}

t_table() {
	wait_log 'ipvs table converged' 20
	local want
	want=$(dry_run)
	wait_for 10 table_is "$want" || expect_eq "kernel table vs --dry-run" "$want" "$(saved)"
	expect_line "$(saved)" "-a -t 203.0.113.7:80 -r 198.51.100.27:80 -m -w 1"
	expect_line "$(saved)" "-a -t 203.0.113.7:80 -r 198.51.100.37:80 -m -w 1"
}

t_master_holds_vip() {
	wait_for 15 has_addr d eth0 203.0.113.7 || { x d ip -o addr; logs; return 1; }
	wait_for 5 metric_is 'ipvsd_vrrp_state{vrrp_instance="VI_priv",state="master"}' 1 ||
		{ metric 'ipvsd_vrrp_state{vrrp_instance="VI_priv",state="master"}'; return 1; }
	local n
	n=$(metric 'ipvsd_vrrp_adverts_sent_total{vrrp_instance="VI_priv"}')
	((n >= 1)) || { echo "adverts sent: $n"; return 1; }
	local st
	st=$(x d "$IPVSD" status --config "$CFG")
	grep -qi 'master' <<<"$st" || { echo "$st"; return 1; }
}

t_garp_seen() {
	# Before the client sent anything to the VIP: its neighbour entry came from d's
	# gratuitous ARP, with d's eth0 MAC.
	local mac
	mac=$(x d cat /sys/class/net/eth0/address)
	wait_for 5 bash -c "ip -n $NS-c neigh show 203.0.113.7 | grep -qi 'lladdr $mac'" || {
		echo "client's neighbour entry for the VIP (want lladdr $mac):"
		ip -n "$NS-c" neigh show
		return 1
	}
}

t_peer_stays_backup() {
	# The peer starts as backup; without d's adverts it would take the VIP after its
	# master-down interval (3.61 s). Watch it for longer than that.
	wait_for 5 grep -q 'Entering BACKUP STATE' "$WORK/ka.log" || { cat "$WORK/ka.log"; return 1; }
	sleep 5
	if has_addr p eth0 203.0.113.7 || grep -q 'Entering MASTER STATE' "$WORK/ka.log"; then
		echo "the peer took the VIP: it did not hear d's adverts"
		cat "$WORK/ka.log"
		return 1
	fi
	has_addr d eth0 203.0.113.7
}

served_by_both() {
	local i out seen=''
	for ((i = 0; i < 6; i++)); do
		out=$(x c curl -sS --max-time 2 http://203.0.113.7/) || { echo "request $i failed"; return 1; }
		seen+="$out "
	done
	[[ $seen == *RS27* && $seen == *RS37* ]] || { echo "answers: $seen"; return 1; }
}

t_served() {
	wait_for 10 served_by_both || { served_by_both; return 1; }
}

t_exec_check_unprivileged() {
	wait_for 10 test -s "$EXEC_OUT" || { echo "the exec check never wrote $EXEC_OUT"; logs; return 1; }
	local got
	got=$(cat "$EXEC_OUT")
	note "exec check: $(tr '\t\n' '  ' <<<"$got")"
	expect_line "$got" "uid $USER_ID"
	expect_line "$got" "gid $USER_ID"
	local c
	for c in CapInh CapPrm CapEff CapAmb; do
		expect_line "$got" "$c:"$'\t'"0000000000000000"
	done
	expect_line "$got" "NoNewPrivs:"$'\t'"1"
	# The check passes (RS27 is up); ipvsd said why it cannot run it as exec_user.
	expect_eq "ipvsd_real_server_up of RS27" 1 \
		"$(metric 'ipvsd_real_server_up{virtual_server="web",real_server="198.51.100.27:80"}')"
	# Said once, though two real servers run the check.
	local warned
	warned=$(grep -F 'exec check cannot switch user without root' "$LOG") || { logs; return 1; }
	expect_eq "warning lines" 1 "$(wc -l <<<"$warned")"
	grep -qF 'user="nobody"' <<<"$warned"
}

t_reload_changes_weight() {
	write_config 3
	kill -HUP "$PID"
	wait_log 'config reloaded'
	wait_for 10 weight_is 198.51.100.27:80 3 || { saved; logs; return 1; }
	expect_eq "kernel table vs --dry-run after reload" "$(dry_run)" "$(saved)"
}

t_stopped_rs_weight_zero() {
	kill "$(cat "$WORK/httpd37.pid")"
	rm -f "$WORK/httpd37.pid"
	wait_for 10 weight_is 198.51.100.37:80 0 || { saved; logs; return 1; }
	wait_log 'real server down'
	expect_eq "RS27's weight" 3 "$(rs_weight 198.51.100.27:80)"
}

# The control socket belongs to the daemon's user, mode 0660: root drains and undrains
# through it (logged with uid 0); another user is refused by the kernel.
t_control_socket() {
	local sock=$WORK/run/ipvsd.sock out
	expect_eq "socket owner and mode" "$USER_NAME:$USER_NAME 660" "$(stat -c '%U:%G %a' "$sock")"
	out=$(x d "$IPVSD" drain web 198.51.100.27:80 --config "$CFG" 2>&1) || { echo "$out"; logs; return 1; }
	wait_for 10 weight_is 198.51.100.27:80 0 || { saved; logs; return 1; }
	wait_log 'control request'
	grep -F 'control request' "$LOG" | grep -F 'uid=0' >/dev/null || { logs; return 1; }
	local rc=0
	out=$(x d setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$IPVSD" undrain web 198.51.100.27:80 --socket "$sock" 2>&1) || rc=$?
	expect_eq "undrain by uid 65534: exit status" 4 "$rc"
	[[ $out == *'Permission denied'* ]] || { echo "$out"; return 1; }
	expect_eq "RS27 still drained" 0 "$(rs_weight 198.51.100.27:80)"
	out=$(x d "$IPVSD" undrain web 198.51.100.27:80 --socket "$sock" 2>&1) || { echo "$out"; return 1; }
	wait_for 10 weight_is 198.51.100.27:80 3 || { saved; logs; return 1; }
}

# After stop_ipvsd in the main shell (the daemon is its child): T0 when SIGTERM was sent,
# STOP_RC the exit status.
t_sigterm_releases() {
	wait_for 5 has_addr p eth0 203.0.113.7 || { echo "the peer did not take the VIP"; cat "$WORK/ka.log"; return 1; }
	local took=$(($(now_ms) - T0))
	note "SIGTERM -> peer holds the VIP after $took ms (bound $RELEASE_MS ms: the priority-0 advert)"
	expect_eq "exit status after SIGTERM" 0 "$STOP_RC"
	! has_addr d eth0 203.0.113.7 || { echo "d still holds the VIP"; return 1; }
	((took <= RELEASE_MS)) || { echo "took $took ms: no priority-0 advert?"; logs; return 1; }
	wait_log 'ipvsd stopped'
	[[ ! -e $WORK/run/ipvsd.sock ]] || { echo "the control socket was left behind"; return 1; }
}

# ------------------------------------------------------------------ run
echo "# vm-privileges on $(uname -r)"
if [[ ! -x $IPVSD ]] || ! command -v setpriv >/dev/null; then
	echo "not ok - $IPVSD is built and util-linux setpriv is in the VM (cargo build; tests/vm/run.sh copies setpriv)"
	FAILED=1
	cat "$WORK/notes" 2>/dev/null || true
vm_summary vm-privileges
	exit 1
fi
setup
check "the unprivileged user exists" test "$(id -u "$USER_NAME")" = "$USER_ID"

echo "# negative control: $USER_NAME without capabilities"
start_ipvsd no
check "without capabilities: CapEff 0 and the missing capabilities are logged" t_nocaps_warns
check "without capabilities: keeps running and counts failed netlink passes" t_nocaps_keeps_running_and_counts_failures
check "without capabilities: the kernel table stays empty and no VIP is added" t_nocaps_kernel_untouched
NOCAPS_RC=0
stop_ipvsd || NOCAPS_RC=$?
check "without capabilities: SIGTERM exits 0" test "$NOCAPS_RC" -eq 0

echo "# $USER_NAME with ambient CAP_NET_ADMIN and CAP_NET_RAW"
start_ipvsd yes
check "the daemon runs as $USER_NAME (uid and gid $USER_ID)" t_identity
check "capabilities: CapEff = CapPrm = CapBnd = 0x3000, CapInh = CapAmb = 0, NoNewPrivs" t_capabilities
check "the kernel table equals --dry-run" t_table
check "VRRP: master, holds the VIP, adverts counted, ipvsd status says so" t_master_holds_vip
check "gratuitous ARP: the client learnt the VIP's MAC before any traffic" t_garp_seen
# The witness of the adverts, started once d is master (so it cannot win the election).
ip netns exec "$NS-p" keepalived -n -l -G -D --vrrp -f "$WORK/keepalived.conf" -p "$WORK/ka.pid" \
	-r "$WORK/ka.vrrp.pid" -c "$WORK/ka.chk.pid" >"$WORK/ka.log" 2>&1 &
KA_PID=$!
check "the keepalived peer hears the adverts and stays backup" t_peer_stays_backup
check "the client reaches both real servers through the VIP" t_served
check "the exec check runs as $USER_NAME with no capability (exec_user cannot be switched to)" t_exec_check_unprivileged
check "SIGHUP reload changes RS27's weight to 3 in the kernel" t_reload_changes_weight
check "a stopped real server gets weight 0 in the kernel" t_stopped_rs_weight_zero
check "control socket ($USER_NAME, 0660): root drains and undrains (uid logged), uid 65534 is refused" t_control_socket
T0=$(now_ms)
STOP_RC=0
stop_ipvsd || STOP_RC=$?
check "SIGTERM: VIP released with a priority-0 advert (peer takes over within ${RELEASE_MS} ms), exit 0, control socket removed" t_sigterm_releases
cat "$WORK/notes" 2>/dev/null || true
vm_summary vm-privileges
