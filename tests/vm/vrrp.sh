#!/usr/bin/env bash
# tests/vm/vrrp.sh - the two-director lab (conf/director-a.yaml, conf/director-b.yaml) on a
# real IPVS kernel, run INSIDE the VM:
#
#   cargo build && tests/vm/run.sh tests/vm/vrrp.sh
#
# Namespaces: a switch (two bridges), directors a and b (eth0 client side 203.0.113.0/24,
# eth1 server side 198.51.100.0/24), a client, and real servers r27 and r37 (busybox
# httpd) whose gateway is the DIP 198.51.100.7, which moves with the VIP 203.0.113.7.
# Both directors run ipvsd with the kernel backend and the shipped configs unchanged.
# Checks: a holds the VIP and the DIP, b neither; the client reaches both real servers
# through the VIP; the kernel's connection-sync daemon runs as master on a and as backup
# on b, and connections made through a appear in b's table; SIGKILL of a moves both
# addresses and the master sync daemon to b within the master-down interval and the
# client is served by b (a's links go down with the kill: a machine failure, not just a
# process crash); a client looping requests through the failover sees failures only
# inside the takeover window (printed); a slow download established through a (NAT with
# connection sync) completes through b; a restarted a takes everything back (preemption)
# and b releases.
set -euo pipefail

# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_require vm-vrrp

REPO=$(pwd)
IPVSD=$REPO/target/debug/ipvsd
WORK=/tmp/vm-vrrp
NS=vmv
declare -A PID=()
# advert 1 s, b's priority 100: 3 x 1 s + (256 - 100) / 256 s, plus 1 s of polling slack.
TAKEOVER_MS=4700

x() { # NS CMD...: run in namespace $NS-NS
	local n=$1
	shift
	ip netns exec "$NS-$n" "$@"
}

setup() {
	mkdir -p "$WORK"
	for n in sw a b c r27 r37; do
		ip netns add "$NS-$n"
		ip -n "$NS-$n" link set lo up
	done
	ip -n "$NS-sw" link add brc type bridge
	ip -n "$NS-sw" link add brs type bridge
	ip -n "$NS-sw" link set brc up
	ip -n "$NS-sw" link set brs up
	# plug NS IFNAME BRIDGE: a veth from the namespace's IFNAME to the bridge.
	plug() {
		ip -n "$NS-sw" link add "$1-$2" type veth peer name "$2" netns "$NS-$1"
		ip -n "$NS-sw" link set "$1-$2" master "$3" up
		ip -n "$NS-$1" link set "$2" up
	}
	for n in a b; do
		plug "$n" eth0 brc
		plug "$n" eth1 brs
		x "$n" sysctl -qw net.ipv4.ip_forward=1
	done
	ip -n "$NS-a" addr add 203.0.113.2/24 dev eth0
	ip -n "$NS-a" addr add 198.51.100.2/24 dev eth1
	ip -n "$NS-b" addr add 203.0.113.3/24 dev eth0
	ip -n "$NS-b" addr add 198.51.100.3/24 dev eth1
	plug c eth0 brc
	ip -n "$NS-c" addr add 203.0.113.100/24 dev eth0
	x c sysctl -qw net.ipv4.conf.all.arp_accept=1
	for r in 27 37; do
		plug "r$r" eth0 brs
		ip -n "$NS-r$r" addr add "198.51.100.$r/24" dev eth0
		ip -n "$NS-r$r" route add default via 198.51.100.7
		mkdir -p "$WORK/www$r"
		echo "RS$r" >"$WORK/www$r/index.html"
		# For the long-lived connection across the failover: 2 MiB, fetched slowly.
		head -c 2097152 /dev/zero >"$WORK/www$r/big"
		x "r$r" busybox httpd -f -p "198.51.100.$r:80" -h "$WORK/www$r" </dev/null >/dev/null 2>&1 &
		echo $! >"$WORK/httpd$r.pid"
	done
}

cleanup() {
	local n
	for n in "${!PID[@]}"; do kill -KILL "${PID[$n]}" 2>/dev/null || true; done
	for n in 27 37; do [[ -f $WORK/httpd$n.pid ]] && kill "$(cat "$WORK/httpd$n.pid")" 2>/dev/null || true; done
	for n in sw a b c r27 r37; do ip netns del "$NS-$n" 2>/dev/null || true; done
}
trap cleanup EXIT

start() { # DIRECTOR
	# The shipped config with a control socket of its own: two machines would each have
	# their /run/ipvsd; here the directors share one file system.
	sed "s|^global:\$|global:\n  control_socket: $WORK/$1.sock|" "$REPO/conf/director-$1.yaml" >"$WORK/director-$1.yaml"
	ip netns exec "$NS-$1" "$IPVSD" run --config "$WORK/director-$1.yaml" >>"$WORK/$1.log" 2>&1 &
	PID[$1]=$!
}

# No `cmd | grep -q` under pipefail: grep's early exit can fail the writer with SIGPIPE.
has_addr() { # DIRECTOR DEVICE ADDR
	local out
	out=$(ip -n "$NS-$1" -o addr show dev "$2")
	[[ $out == *" $3/"* ]]
}

holds() { # DIRECTOR: both moving addresses
	has_addr "$1" eth0 203.0.113.7 && has_addr "$1" eth1 198.51.100.7
}

holds_none() { # DIRECTOR
	! has_addr "$1" eth0 203.0.113.7 && ! has_addr "$1" eth1 198.51.100.7
}

# busybox date has no %N: bash's own clock.
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# wait_for SECONDS CMD...: until CMD succeeds (polled every 20 ms).
wait_for() {
	local end=$(($(now_ms) + $1 * 1000))
	shift
	while (($(now_ms) < end)); do
		"$@" && return 0
		sleep 0.02
	done
	return 1
}

logs() {
	echo "--- a.log"
	tail -n 25 "$WORK/a.log" || true
	echo "--- b.log"
	tail -n 25 "$WORK/b.log" || true
}

sync_daemon() { # DIRECTOR ROLE: the kernel runs that role's daemon on eth1, sync id 51
	local out
	out=$(x "$1" ipvsadm -L --daemon)
	[[ $'\n'$out == *$'\n'"$2 sync daemon (mcast=eth1, syncid=51"* ]]
}

# served_by_both: 6 requests through the VIP reach both real servers, none fails.
served_by_both() {
	local i out seen=''
	for ((i = 0; i < 6; i++)); do
		out=$(x c curl -s -m 2 http://203.0.113.7/) || { echo "request $i failed"; return 1; }
		seen+="$out "
	done
	[[ $seen == *RS27* && $seen == *RS37* ]] || { echo "answers: $seen"; return 1; }
}

t_election() {
	# a's tracked service must be healthy first (its priority is 90 until then).
	wait_for 20 holds a || { logs; return 1; }
	wait_for 5 holds_none b || { logs; return 1; }
	holds a && holds_none b || { echo "no longer: a holds the addresses and b none"; logs; return 1; }
}

t_served() {
	wait_for 10 served_by_both || { logs; return 1; }
}

t_sync_roles() {
	wait_for 5 sync_daemon a master || { x a ipvsadm -L --daemon; logs; return 1; }
	wait_for 5 sync_daemon b backup || { x b ipvsadm -L --daemon; logs; return 1; }
	! sync_daemon a backup && ! sync_daemon b master
}

t_connections_synced() {
	served_by_both
	# The sync daemon sends the new connections within a second or so.
	wait_for 5 bash -c "ip netns exec $NS-b ipvsadm -Lnc | grep -q '203.0.113.100:'" || {
		echo "b's connection table:"
		x b ipvsadm -Lnc
		return 1
	}
}

# The client's view of the failover, in the background: one request after another
# (curl --max-time 1), each line `START_MS ok|fail`, until the stop file appears (bounded
# to 60 s); and one slow download (2 MiB at 128 KiB/s, about 16 s) started before the kill,
# which must survive it: with connection sync, b knows the connection.
loop_start() {
	rm -f "$WORK/stop"
	(
		end=$(($(now_ms) + 60000))
		while [[ ! -e $WORK/stop ]] && (($(now_ms) < end)); do
			t=$(now_ms)
			if x c curl -s -m 1 -o /dev/null http://203.0.113.7/; then echo "$t ok"; else echo "$t fail"; fi
		done
	) >"$WORK/loop" 2>&1 &
	echo $! >"$WORK/loop.pid"
	x c curl -s -m 60 --limit-rate 128k -o /dev/null -w '%{http_code} %{size_download}\n' \
		http://203.0.113.7/big >"$WORK/download" 2>&1 &
	echo $! >"$WORK/download.pid"
}

t_takeover() {
	local t0 t1
	loop_start
	sleep 3 # the download is under way, the loop has a baseline
	t0=$(now_ms)
	echo "$t0" >"$WORK/kill_ms"
	# A machine failure, not just a process crash: the daemon dies and a's links go down
	# (a killed process alone leaves a's kernel forwarding with the addresses it holds).
	kill -KILL "${PID[a]}"
	ip -n "$NS-a" link set eth0 down
	ip -n "$NS-a" link set eth1 down
	unset 'PID[a]'
	wait_for 8 holds b || { logs; return 1; }
	t1=$(now_ms)
	echo "$((t1 - t0))" >"$WORK/takeover_ms"
	((t1 - t0 <= TAKEOVER_MS)) || { echo "took $((t1 - t0)) ms"; return 1; }
	wait_for 5 sync_daemon b master || { x b ipvsadm -L --daemon; logs; return 1; }
	wait_for 10 served_by_both || { logs; return 1; }
}

# Requests failed only between the kill and the takeover (plus one request's time), and
# every one after it succeeded; prints the window.
t_client_window() {
	sleep 3
	touch "$WORK/stop"
	local p
	p=$(cat "$WORK/loop.pid")
	while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
	local k tk
	k=$(cat "$WORK/kill_ms") tk=$(cat "$WORK/takeover_ms")
	awk -v k="$k" -v tk="$tk" '
		{ n++; if ($2 == "fail") { f++; if (!ff) ff = $1; lf = $1 } else if ($1 > k) after++ }
		END {
			printf "# client loop: %d requests, %d failed", n, f
			if (f) printf ", from %+d ms to %+d ms after the kill (takeover at +%d ms)", ff - k, lf - k, tk
			printf "; %d succeeded after the kill\n", after
			# A failed request started before the takeover ended (its 1 s timeout aside).
			bad = f && (ff < k - 1000 || lf > k + tk + 1000)
			exit (bad || after < 5 || n < 10)
		}' "$WORK/loop" | tee "$WORK/window"
}

t_long_connection_survives() {
	local p
	p=$(cat "$WORK/download.pid")
	while kill -0 "$p" 2>/dev/null; do sleep 0.2; done
	local got
	got=$(cat "$WORK/download")
	echo "# download across the failover: $got (want 200 2097152)"
	[[ $got == "200 2097152" ]]
}

t_preempt_back() {
	# a comes back: links up (its old addresses are still on them; the new daemon removes
	# what a killed run left behind), daemon started.
	# The addresses a killed run left would pass `holds a` at once: wait for the new
	# run's own move to master (a's log is appended to), then for the addresses.
	local masters
	masters=$(grep -ac 'to=master' "$WORK/a.log" || true)
	ip -n "$NS-a" link set eth0 up
	ip -n "$NS-a" link set eth1 up
	start a
	became_master_again() { (($(grep -ac 'to=master' "$WORK/a.log" || true) > masters)); }
	wait_for 25 became_master_again || { echo "a did not become master again"; logs; return 1; }
	wait_for 5 holds a || { echo "a does not hold the addresses"; x a ip -o addr; logs; return 1; }
	wait_for 5 holds_none b || { echo "b still holds an address"; x b ip -o addr; logs; return 1; }
	wait_for 5 sync_daemon a master || { x a ipvsadm -L --daemon; return 1; }
	wait_for 5 sync_daemon b backup || { x b ipvsadm -L --daemon; return 1; }
	wait_for 10 served_by_both
}

echo "# vm-vrrp on $(uname -r)"
setup
start a
start b
check "election: a holds the VIP and the DIP, b neither" t_election
check "the client reaches both real servers through the VIP" t_served
check "connection sync: master daemon on a, backup on b" t_sync_roles
check "connections made through a appear in b's table" t_connections_synced
check "SIGKILL a: b holds both addresses within the master-down interval, runs the master sync daemon, serves" t_takeover
echo "# takeover after SIGKILL: $(cat "$WORK/takeover_ms" 2>/dev/null || echo '?') ms (bound ${TAKEOVER_MS} ms)"
check "client loop through the failover: requests fail only inside the takeover window" t_client_window
cat "$WORK/window" 2>/dev/null || true
check "NAT with connection sync: a download established through a completes through b" t_long_connection_survives
cat "$WORK/download" 2>/dev/null | sed 's/^/# download: /' || true
check "a restarted preempts: it holds everything again, b releases and goes back to backup sync" t_preempt_back
vm_summary vm-vrrp
