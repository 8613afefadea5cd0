#!/usr/bin/env bash
# tests/vm/labs.sh - the seed's direct-routing labs with the shipped conf/ files, run
# INSIDE the VM:
#
#   cargo build && cargo build --example labserver && tests/vm/run.sh tests/vm/labs.sh
#
# One L2 segment (a bridge in a switch namespace): a client 198.51.100.100, a director
# 198.51.100.7 holding the VIP 198.51.100.99, real servers .27 and .37 prepared with
# `ipvsd realserver setup --vip 198.51.100.99` (VIP on lo /32, arp_ignore=1,
# arp_announce=2) and serving HTTP on :80 (busybox httpd) and HTTPS on :443
# (examples/labserver.rs, the lab certificate for www.example.com signed by conf/certs/lab-ca.pem).
# Each real server answers with its name (RS27, RS37). Scenarios:
#   1. LVS-DR, rr (conf/lvs-dr.yaml): the client reaches both real servers through the
#      VIP, and the director (not a real server) answers ARP for it.
#   2. Firewall mark 3 for 80 and 443, sh (conf/fwmark-https.yaml, the mark set with
#      iptables as the seed did): HTTP and HTTPS (verified against the lab CA) from one
#      client land on the same real server; reloaded with rr, successive requests
#      alternate.
#   3. Port-0 persistent service, 360 s (conf/persistent-all-ports.yaml): every port
#      from one client goes to one real server.
set -euo pipefail

# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_require vm-labs

REPO=$(pwd)
IPVSD=$REPO/target/debug/ipvsd
LABSERVER=$REPO/target/debug/examples/labserver
WORK=/tmp/vm-labs
NS=vml
VIP=198.51.100.99
CA=$REPO/conf/certs/lab-ca.pem

x() { # ROLE CMD...: run in that namespace
	local n=$1
	shift
	ip netns exec "$NS-$n" "$@"
}

setup() {
	mkdir -p "$WORK"
	local n r
	for n in sw c d r27 r37; do
		ip netns add "$NS-$n"
		ip -n "$NS-$n" link set lo up
	done
	ip -n "$NS-sw" link add br0 type bridge
	ip -n "$NS-sw" link set br0 up
	for n in c d r27 r37; do
		ip -n "$NS-sw" link add "p$n" type veth peer name eth0 netns "$NS-$n"
		ip -n "$NS-sw" link set "p$n" master br0 up
		ip -n "$NS-$n" link set eth0 up
	done
	ip -n "$NS-c" addr add 198.51.100.100/24 dev eth0
	ip -n "$NS-d" addr add 198.51.100.7/24 dev eth0
	ip -n "$NS-d" addr add "$VIP/24" dev eth0
	for r in 27 37; do
		ip -n "$NS-r$r" addr add "198.51.100.$r/24" dev eth0
		x "r$r" "$IPVSD" realserver setup --vip "$VIP" --state "$WORK/r$r.state" >"$WORK/r$r.setup" 2>&1
		mkdir -p "$WORK/www$r"
		echo "RS$r" >"$WORK/www$r/index.html"
		x "r$r" busybox httpd -f -p 80 -h "$WORK/www$r" </dev/null >/dev/null 2>&1 &
		echo $! >>"$WORK/pids"
		x "r$r" "$LABSERVER" 0.0.0.0:443 "RS$r" "$REPO/conf/certs/www.example.com.pem" \
			"$REPO/conf/certs/www.example.com.key" </dev/null >/dev/null 2>&1 &
		echo $! >>"$WORK/pids"
	done
	# The servers are listening before the labs start.
	local i
	for r in 27 37; do
		for ((i = 0; i < 100; i++)); do
			[[ $(x "r$r" ss -Hltn '( sport = :80 or sport = :443 )' | wc -l) -ge 2 ]] && break
			sleep 0.1
		done
	done
}

cleanup() {
	set +e
	stop_ipvsd
	[[ -f $WORK/pids ]] && while read -r p; do kill "$p" 2>/dev/null; done <"$WORK/pids"
	for n in sw c d r27 r37; do ip netns del "$NS-$n" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

start_ipvsd() { # CONFIG (a daemon a failed scenario left running is stopped first)
	stop_ipvsd
	: >"$WORK/ipvsd.log"
	ip netns exec "$NS-d" "$IPVSD" run --config "$1" >>"$WORK/ipvsd.log" 2>&1 &
	echo $! >"$WORK/ipvsd.pid"
	local i
	for ((i = 0; i < 300; i++)); do
		grep -qF "ipvs table converged" "$WORK/ipvsd.log" && return 0
		sleep 0.1
	done
	cat "$WORK/ipvsd.log"
	return 1
}

stop_ipvsd() {
	[[ -f $WORK/ipvsd.pid ]] || return 0
	local p
	p=$(cat "$WORK/ipvsd.pid")
	kill -TERM "$p" 2>/dev/null
	while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
	rm -f "$WORK/ipvsd.pid"
	x d ipvsadm -C
}

# wait_up N: until N real servers are at weight > 0 in the kernel (their checks passed).
# (Slow under TCG with a debug build: up to 30 s.)
wait_up() {
	local i
	for ((i = 0; i < 300; i++)); do
		[[ $(x d ipvsadm -S -n | grep -cE -- '-r .* -w [1-9]') -ge $1 ]] && return 0
		sleep 0.1
	done
	x d ipvsadm -S -n
	tail -n 20 "$WORK/ipvsd.log"
	return 1
}

http() { x c curl -sS --max-time 5 "http://$VIP${1:-}/"; }
https() {
	x c curl -sS --max-time 5 --cacert "$CA" --resolve "www.example.com:443:$VIP" https://www.example.com/
}

# ------------------------------------------------------------------ 1. DR
t_realserver_setup() {
	local r
	for r in 27 37; do
		x "r$r" ip -o addr show dev lo | grep -F " $VIP/32 " >/dev/null ||
			{ echo "no VIP on r$r's lo:"; x "r$r" ip -o addr show dev lo; cat "$WORK/r$r.setup"; return 1; }
		[[ $(x "r$r" cat /proc/sys/net/ipv4/conf/all/arp_ignore) == 1 ]]
		[[ $(x "r$r" cat /proc/sys/net/ipv4/conf/all/arp_announce) == 2 ]]
	done
}

t_dr_both_servers() {
	start_ipvsd "$REPO/conf/lvs-dr.yaml"
	wait_up 2
	local i seen=''
	for ((i = 0; i < 10; i++)); do seen+="$(http) "; done
	echo "answers: $seen"
	[[ $seen == *RS27* && $seen == *RS37* ]]
	# rr: strictly alternating.
	[[ $seen == "RS27 RS37 RS27 RS37 "* || $seen == "RS37 RS27 RS37 RS27 "* ]]
}

t_dr_arp_is_the_directors() {
	local dmac
	dmac=$(x d cat /sys/class/net/eth0/address)
	x c ip neigh show "$VIP" | grep -i "lladdr $dmac" >/dev/null || { x c ip neigh show; echo "director: $dmac"; return 1; }
	stop_ipvsd
}

# ------------------------------------------------------------------ 2. fwmark 80+443
t_fwmark_sh_same_server() {
	x d iptables -t mangle -A PREROUTING -d "$VIP" -p tcp -m multiport --dports 80,443 -j MARK --set-mark 3
	start_ipvsd "$REPO/conf/fwmark-https.yaml"
	wait_up 2
	local out='' i r bad=0
	for ((i = 0; i < 4; i++)); do
		r=$(http 2>&1) || bad=1
		out+="http:$r "
		r=$(https 2>&1) || bad=1
		out+="https:$r "
	done
	echo "sh: $out"
	if ((bad)); then
		grep -E 'real server (down|up)' "$WORK/ipvsd.log" || echo "(no real server changed state)"
		x d ipvsadm -Lnc
		for r in 27 37; do x "r$r" ss -tan; done
		return 1
	fi
	local answers
	answers=$(tr ' ' '\n' <<<"$out" | grep . | sed 's/^https*://' | sort | uniq -c | awk '{ print $1, $2 }')
	[[ $answers == "8 RS27" || $answers == "8 RS37" ]]
}

t_fwmark_rr_alternates() {
	# The same file with rr, loaded by a reload (certs/ next to it, as the file expects).
	mkdir -p "$WORK/conf"
	cp -r "$REPO/conf/certs" "$WORK/conf/"
	sed 's/scheduler: sh/scheduler: rr/' "$REPO/conf/fwmark-https.yaml" >"$WORK/conf/fwmark-rr.yaml"
	stop_ipvsd
	start_ipvsd "$WORK/conf/fwmark-rr.yaml"
	wait_up 2
	local a b c d
	a=$(http) b=$(https) c=$(http) d=$(https)
	echo "rr: http $a, https $b, http $c, https $d"
	[[ $a == RS* && $b == RS* && $a != "$b" && $a == "$c" && $b == "$d" ]]
	stop_ipvsd
	x d iptables -t mangle -F PREROUTING
}

# ------------------------------------------------------------------ 3. port 0, persistent
t_persistent_all_ports() {
	start_ipvsd "$REPO/conf/persistent-all-ports.yaml"
	wait_up 2
	x d ipvsadm -S -n | grep -E -- "-A -t $VIP:0 -s rr -p 360" >/dev/null || { x d ipvsadm -S -n; return 1; }
	local out='' i
	for ((i = 0; i < 3; i++)); do out+="$(http) $(https) "; done
	echo "persistent: $out"
	# Six requests on two ports, rr underneath: one real server for all of them.
	local answers
	answers=$(tr ' ' '\n' <<<"$out" | grep . | sort | uniq -c | awk '{ print $1, $2 }')
	[[ $answers == "6 RS27" || $answers == "6 RS37" ]]
	stop_ipvsd
}

t_realserver_teardown() {
	local r
	for r in 27 37; do
		x "r$r" "$IPVSD" realserver teardown --vip "$VIP" --state "$WORK/r$r.state" >/dev/null
		[[ $(x "r$r" ip -o addr show dev lo) != *" $VIP/32 "* ]]
		[[ $(x "r$r" cat /proc/sys/net/ipv4/conf/all/arp_ignore) == 0 ]]
	done
}

# ------------------------------------------------------------------ run
echo "# vm-labs on $(uname -r)"
if [[ ! -x $IPVSD || ! -x $LABSERVER ]]; then
	echo "not ok - $IPVSD and $LABSERVER are built (cargo build && cargo build --example labserver)"
	FAILED=1
	vm_summary vm-labs
	exit 1
fi
setup
check "ipvsd realserver setup: VIP on lo /32, arp_ignore=1, arp_announce=2 on both real servers" t_realserver_setup
check "1 LVS-DR rr (conf/lvs-dr.yaml): the client reaches both real servers through the VIP, alternating" t_dr_both_servers
check "1 LVS-DR: the client's ARP entry for the VIP is the director's MAC" t_dr_arp_is_the_directors
check "2 fwmark 3, sh (conf/fwmark-https.yaml): HTTP and verified HTTPS from one client land on one real server" t_fwmark_sh_same_server
check "2 fwmark 3 with rr: successive requests alternate" t_fwmark_rr_alternates
check "3 port 0, persistent 360 s (conf/persistent-all-ports.yaml): HTTP and HTTPS from one client on one real server" t_persistent_all_ports
check "ipvsd realserver teardown: VIP off lo, sysctls back" t_realserver_teardown
vm_summary vm-labs
