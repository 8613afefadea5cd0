#!/usr/bin/env bash
# The in-VM half of scripts/lab (see there): narrated, not a test (tests/vm/vrrp.sh and
# tests/vm/checks.sh assert the same behaviour).
set -euo pipefail

REPO=$(pwd)
IPVSD=$REPO/target/debug/ipvsd
WORK=/tmp/lab
NS=lab
declare -A PID=()

x() { local n=$1; shift; ip netns exec "$NS-$n" "$@"; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
has_vip() { [[ $(ip -n "$NS-$1" -o addr show dev eth0) == *" 203.0.113.7/"* ]]; }

setup() {
	mkdir -p "$WORK"
	local n r
	for n in sw a b c r27 r37; do
		ip netns add "$NS-$n"
		ip -n "$NS-$n" link set lo up
	done
	ip -n "$NS-sw" link add brc type bridge
	ip -n "$NS-sw" link add brs type bridge
	ip -n "$NS-sw" link set brc up
	ip -n "$NS-sw" link set brs up
	plug() {
		ip -n "$NS-sw" link add "$1-$2" type veth peer name "$2" netns "$NS-$1"
		ip -n "$NS-sw" link set "$1-$2" master "$3" up
		ip -n "$NS-$1" link set "$2" up
	}
	for n in a b; do
		plug "$n" eth0 brc
		plug "$n" eth1 brs
		x "$n" sysctl -qw net.ipv4.ip_forward=1
		# The directors' local sorry page (sorry_server 127.0.0.1:80 in the configs).
		mkdir -p "$WORK/sorry-$n"
		echo "sorry page from director-$n: no real server is up" >"$WORK/sorry-$n/index.html"
		ip netns exec "$NS-$n" busybox httpd -f -p 80 -h "$WORK/sorry-$n" </dev/null >/dev/null 2>&1 &
		echo $! >>"$WORK/pids"
	done
	ip -n "$NS-a" addr add 203.0.113.2/24 dev eth0
	ip -n "$NS-a" addr add 198.51.100.2/24 dev eth1
	ip -n "$NS-b" addr add 203.0.113.3/24 dev eth0
	ip -n "$NS-b" addr add 198.51.100.3/24 dev eth1
	plug c eth0 brc
	ip -n "$NS-c" addr add 203.0.113.100/24 dev eth0
	for r in 27 37; do
		plug "r$r" eth0 brs
		ip -n "$NS-r$r" addr add "198.51.100.$r/24" dev eth0
		ip -n "$NS-r$r" route add default via 198.51.100.7
		mkdir -p "$WORK/www$r"
		echo "hello from real server RS$r (198.51.100.$r)" >"$WORK/www$r/index.html"
		start_rs "$r"
	done
}

start_rs() { # (not through x(): $! must be the server itself, which ip netns exec becomes)
	ip netns exec "$NS-r$1" busybox httpd -f -p "198.51.100.$1:80" -h "$WORK/www$1" </dev/null >/dev/null 2>&1 &
	echo $! >"$WORK/rs$1.pid"
}
stop_rs() { kill "$(cat "$WORK/rs$1.pid")" 2>/dev/null || true; }

cleanup() {
	set +e
	for n in "${!PID[@]}"; do kill -KILL "${PID[$n]}" 2>/dev/null; done
	[[ -f $WORK/pids ]] && while read -r p; do kill "$p" 2>/dev/null; done <"$WORK/pids"
	for r in 27 37; do stop_rs "$r"; done
	for n in sw a b c r27 r37; do ip netns del "$NS-$n" 2>/dev/null; done
}
trap cleanup EXIT

start() {
	# The shipped config with a control socket of its own: two machines would each have
	# their /run/ipvsd; here the directors share one file system.
	sed "s|^global:\$|global:\n  control_socket: $WORK/$1.sock|" "$REPO/conf/director-$1.yaml" >"$WORK/director-$1.yaml"
	ip netns exec "$NS-$1" "$IPVSD" run --config "$WORK/director-$1.yaml" >>"$WORK/$1.log" 2>&1 &
	PID[$1]=$!
	disown "${PID[$1]}" # no "Killed" job notice when the lab kills it
}

wait_for() { # SECONDS CMD...
	local end=$(($(now_ms) + $1 * 1000))
	shift
	while (($(now_ms) < end)); do "$@" && return 0; sleep 0.05; done
	return 1
}

requests() { # N: N requests from the client, one line each
	local i out
	for ((i = 1; i <= $1; i++)); do
		out=$(x c curl -s -m 2 http://203.0.113.7/ 2>/dev/null) || out="(no answer)"
		printf '  client request %d -> %s\n' "$i" "$out"
	done
}

kernel_table() { # DIRECTOR
	x "$1" ipvsadm -Ln | sed 's/^/  | /'
}

echo "ipvsd lab on kernel $(uname -r): client 203.0.113.100 -> VIP 203.0.113.7:80 (NAT, rr) -> RS27, RS37"
echo "directors: a (priority 150) and b (priority 100), conf/director-a.yaml and conf/director-b.yaml"
setup
start a
start b

say "1. The directors elect a master"
wait_for 30 has_vip a || { echo "a did not become master"; tail "$WORK/a.log"; exit 1; }
echo "  director-a holds the VIP 203.0.113.7 (and the DIP 198.51.100.7); director-b is backup"
echo "  director-a's IPVS table, written by ipvsd:"
kernel_table a
x a "$IPVSD" status --config "$WORK/director-a.yaml" 2>/dev/null | sed 's/^/  status> /' || true

say "2. The client is answered by both real servers, in turn"
wait_for 15 bash -c "ip netns exec $NS-c curl -s -m 2 http://203.0.113.7/ >/dev/null"
requests 4

say "3. director-a dies (process killed, links down): director-b takes over"
t0=$(now_ms)
kill -KILL "${PID[a]}"
unset 'PID[a]'
ip -n "$NS-a" link set eth0 down
ip -n "$NS-a" link set eth1 down
# The client keeps asking (1 s timeout each) while director-b's VRRP timer runs out.
fails=0 t1=''
for ((i = 0; i < 30; i++)); do
	[[ -z $t1 ]] && has_vip b && t1=$(now_ms)
	x c curl -s -m 1 -o /dev/null http://203.0.113.7/ && break
	fails=$((fails + 1))
done
t2=$(now_ms)
[[ -n $t1 ]] || { wait_for 10 has_vip b; t1=$(now_ms); }
echo "  director-b holds the VIP $((t1 - t0)) ms after the crash (VRRP master-down interval: 3 adverts + skew)"
echo "  the client is served again $((t2 - t0)) ms after the crash; $fails request(s) timed out meanwhile"
requests 2

say "4. RS27's web server stops: its checks fail, ipvsd drains it"
stop_rs 27
wait_for 15 bash -c "ip netns exec $NS-b ipvsadm -S -n | grep -- '-r 198.51.100.27:80 -m -w 0' >/dev/null" ||
	{ echo "RS27 still has its weight:"; kernel_table b; tail -n 15 "$WORK/b.log"; exit 1; }
echo "  director-b's kernel table (RS27 at weight 0, so no new connections):"
kernel_table b
{ grep 'real server down' "$WORK/b.log" || true; } | tail -n 1 | sed 's/^/  log> /'
requests 3

say "5. RS37 stops too: no real server left, the sorry server goes in"
stop_rs 37
wait_for 15 bash -c "ip netns exec $NS-b ipvsadm -S -n | grep -- '-r 127.0.0.1:80' >/dev/null"
kernel_table b
{ grep 'quorum lost' "$WORK/b.log" || true; } | tail -n 1 | sed 's/^/  log> /'
requests 2

say "6. Both real servers come back: the sorry server goes out"
start_rs 27
start_rs 37
both_back() {
	local t
	t=$(ip netns exec "$NS-b" ipvsadm -S -n)
	[[ $t != *"-r 127.0.0.1:80"* && $(grep -c -- '-w 1$' <<<"$t") -eq 2 ]]
}
wait_for 20 both_back
kernel_table b
{ grep 'quorum regained' "$WORK/b.log" || true; } | tail -n 1 | sed 's/^/  log> /'
requests 4

say "Done. ipvsd's logs: director-a $(wc -l <"$WORK/a.log") lines, director-b $(wc -l <"$WORK/b.log") lines."
