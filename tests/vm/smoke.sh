#!/usr/bin/env bash
# tests/vm/smoke.sh - smoke test of the VM harness, run INSIDE the guest:
#
#   tests/vm/run.sh tests/vm/smoke.sh
#
# Proves the guest kernel has working IPVS (all schedulers, IPv6, fwmark),
# netns/veth/bridge networking and iptables MARK, and that IPVS NAT really
# forwards a TCP connection. Prints one TAP-like "ok - NAME" / "not ok - NAME"
# line per check, then "vm-smoke: N passed, M failed"; exits 1 if any failed.
# Only documentation address ranges are used; everything created is removed.
set -euo pipefail

# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_require vm-smoke

SCHEDULERS=(rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos)
WWW=/tmp/vm-smoke-www
HTTPD_PID=''

# ------------------------------------------------------------------ checks
t_proc_ip_vs() {
	test -e /proc/net/ip_vs
	head -n 1 /proc/net/ip_vs
}

t_table_empty() {
	local s
	s=$(ipvsadm -S -n)
	[[ -z $s ]] || { printf 'IPVS table not empty:\n%s\n' "$s"; return 1; }
}

t_service_and_dest() {
	local expected got
	ipvsadm -A -t 192.0.2.1:80 -s rr
	ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 3
	expected=$'-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 3'
	got=$(ipvsadm -S -n)
	if [[ $got != "$expected" ]]; then
		printf 'ipvsadm -S -n:\n%s\nexpected:\n%s\n' "$got" "$expected"
		return 1
	fi
	ipvsadm -D -t 192.0.2.1:80
}

t_scheduler() {
	local s=$1 port=$2
	ipvsadm -A -t "192.0.2.2:$port" -s "$s"
	expect_line "$(ipvsadm -S -n)" "-A -t 192.0.2.2:$port -s $s"
	ipvsadm -D -t "192.0.2.2:$port"
}

t_ipv6_service() {
	local s
	ipvsadm -A -t '[2001:db8::1]:80' -s rr
	ipvsadm -a -t '[2001:db8::1]:80' -r '[2001:db8::2]:80' -m -w 1
	s=$(ipvsadm -S -n)
	expect_line "$s" "-A -t [2001:db8::1]:80 -s rr"
	expect_line "$s" "-a -t [2001:db8::1]:80 -r [2001:db8::2]:80 -m -w 1"
	ipvsadm -D -t '[2001:db8::1]:80'
}

t_fwmark_service() {
	local s
	ipvsadm -A -f 3 -s wlc
	ipvsadm -a -f 3 -r 198.51.100.3 -g -w 2
	s=$(ipvsadm -S -n)
	expect_line "$s" "-A -f 3 -s wlc"
	expect_line "$s" "-a -f 3 -r 198.51.100.3:0 -g -w 2"
	ipvsadm -D -f 3
}

t_netns() {
	ip netns add vm-smoke-a
	ip netns add vm-smoke-b
	ip netns exec vm-smoke-a ip link set lo up
	ip netns exec vm-smoke-b ip link set lo up
}

t_bridge() {
	ip link add vm-smoke-br type bridge forward_delay 0
	ip addr add 203.0.113.1/24 dev vm-smoke-br
	ip link set vm-smoke-br up
}

t_veth() {
	local ns i=2
	for ns in a b; do
		ip link add "vm-smoke-$ns" type veth peer name eth0 netns "vm-smoke-$ns"
		ip link set "vm-smoke-$ns" master vm-smoke-br up
		ip -n "vm-smoke-$ns" addr add "203.0.113.$i/24" dev eth0
		ip -n "vm-smoke-$ns" link set eth0 up
		i=$((i + 1))
	done
}

t_ping_host_to_ns() {
	ping -c 1 -W 5 203.0.113.2
}

t_ping_ns_to_ns() {
	ip netns exec vm-smoke-a ping -c 1 -W 5 203.0.113.3
}

t_dummy_macvlan() {
	ip link add vm-smoke-d0 type dummy
	ip link add vm-smoke-mv link vm-smoke-d0 type macvlan mode bridge
	ip link set vm-smoke-d0 up
	ip link set vm-smoke-mv up
	ip link del vm-smoke-mv
	ip link del vm-smoke-d0
}

t_iptables_mark() {
	iptables -t mangle -A PREROUTING -d 192.0.2.1 -p tcp -j MARK --set-mark 3
	expect_line "$(iptables -t mangle -S PREROUTING)" \
		"-A PREROUTING -d 192.0.2.1/32 -p tcp -j MARK --set-xmark 0x3/0xffffffff"
	iptables -t mangle -D PREROUTING -d 192.0.2.1 -p tcp -j MARK --set-mark 3
}

t_packet_socket() {
	test -e /proc/net/packet
}

t_tools() {
	local t
	for t in bash ip ss ipvsadm curl keepalived iptables modprobe; do
		command -v "$t" >/dev/null || { echo "$t: not found"; return 1; }
	done
	ip -V >/dev/null
	ss -V >/dev/null
	ipvsadm -v >/dev/null
	curl --version >/dev/null
	keepalived --version >/dev/null 2>&1
	iptables -V >/dev/null
}

# client ns --veth-- director ns (IPVS NAT, VIP 192.0.2.1) --veth-- real server ns (httpd)
t_nat_forwarding() {
	local i body
	ip netns add vm-smoke-c
	ip netns add vm-smoke-d
	ip netns add vm-smoke-r
	for ns in c d r; do ip -n "vm-smoke-$ns" link set lo up; done
	ip -n vm-smoke-d link add dc type veth peer name eth0 netns vm-smoke-c
	ip -n vm-smoke-d link add dr type veth peer name eth0 netns vm-smoke-r
	ip -n vm-smoke-d addr add 203.0.113.1/24 dev dc
	ip -n vm-smoke-d addr add 198.51.100.1/24 dev dr
	ip -n vm-smoke-d addr add 192.0.2.1/32 dev lo
	ip -n vm-smoke-d link set dc up
	ip -n vm-smoke-d link set dr up
	ip -n vm-smoke-c addr add 203.0.113.2/24 dev eth0
	ip -n vm-smoke-c link set eth0 up
	ip -n vm-smoke-c route add default via 203.0.113.1
	ip -n vm-smoke-r addr add 198.51.100.2/24 dev eth0
	ip -n vm-smoke-r link set eth0 up
	ip -n vm-smoke-r route add default via 198.51.100.1
	ip netns exec vm-smoke-d sysctl -q -w net.ipv4.ip_forward=1
	ip netns exec vm-smoke-d ipvsadm -A -t 192.0.2.1:80 -s rr
	ip netns exec vm-smoke-d ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 1

	mkdir -p "$WWW"
	echo "hello from the real server" >"$WWW/index.html"
	ip netns exec vm-smoke-r busybox httpd -f -p 198.51.100.2:80 -h "$WWW" </dev/null >/dev/null 2>&1 &
	echo $! >"$WWW.pid"
	for ((i = 0; i < 50; i++)); do
		ip netns exec vm-smoke-r ss -Hltn 'sport = :80' | grep . >/dev/null && break
		sleep 0.1
	done
	body=$(ip netns exec vm-smoke-c curl -sS --max-time 10 http://192.0.2.1/)
	[[ $body == "hello from the real server" ]] || { echo "unexpected reply: $body"; return 1; }
	# the connection went through IPVS: it is in the connection table (the
	# --stats counters lag: the kernel folds them in every 2 s)
	local conns
	conns=$(ip netns exec vm-smoke-d ipvsadm -L -n -c)
	grep -qE '^TCP .* 203\.0\.113\.2:[0-9]+ +192\.0\.2\.1:80 +198\.51\.100\.2:80$' <<<"$conns" ||
		{ printf 'no IPVS connection entry:\n%s\n' "$conns"; return 1; }
}

# ------------------------------------------------------------------ cleanup
cleanup() {
	local ns l
	HTTPD_PID=''
	[[ -f $WWW.pid ]] && HTTPD_PID=$(cat "$WWW.pid")
	if [[ -n $HTTPD_PID ]]; then
		kill "$HTTPD_PID" 2>/dev/null || true
		wait "$HTTPD_PID" 2>/dev/null || true
	fi
	rm -rf "$WWW" "$WWW.pid"
	ipvsadm -D -t 192.0.2.1:80 2>/dev/null || true
	ipvsadm -D -t '[2001:db8::1]:80' 2>/dev/null || true
	ipvsadm -D -f 3 2>/dev/null || true
	for ((l = 0; l < ${#SCHEDULERS[@]}; l++)); do
		ipvsadm -D -t "192.0.2.2:$((10000 + l))" 2>/dev/null || true
	done
	while iptables -t mangle -D PREROUTING -d 192.0.2.1 -p tcp -j MARK --set-mark 3 2>/dev/null; do :; done
	for l in $(ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: \(vm-smoke-[^:@]*\).*/\1/p'); do
		ip link del "$l" 2>/dev/null || true
	done
	for ns in $(ip netns list 2>/dev/null | grep -o '^vm-smoke-[a-z]*'); do
		ip netns del "$ns" 2>/dev/null || true
	done
}

t_cleaned_up() {
	cleanup
	local left
	left=$(ip -o link show | grep -o 'vm-smoke-[^:@ ]*' || true)
	left+=$(ip netns list | grep -o '^vm-smoke-[a-z]*' || true)
	left+=$(ipvsadm -S -n)
	left+=$(iptables -t mangle -S PREROUTING | grep -e '--set-xmark 0x3/' || true)
	[[ -z $left ]] || { printf 'left over:\n%s\n' "$left"; return 1; }
}

trap cleanup EXIT

# ------------------------------------------------------------------ run
echo "# vm-smoke on $(uname -r)"
check "/proc/net/ip_vs exists" t_proc_ip_vs
check "IPVS table empty at start" t_table_empty
check "ipvsadm -A/-a and ipvsadm -S -n shows exactly the service and real server" t_service_and_dest
port=10000
for s in "${SCHEDULERS[@]}"; do
	if has_module "ip_vs_$s"; then
		check "service with scheduler $s" t_scheduler "$s" "$port"
	else
		skip "service with scheduler $s" "ip_vs_$s not in kernel $(uname -r)"
	fi
	port=$((port + 1))
done
check "IPv6 service [2001:db8::1]:80 with a real server" t_ipv6_service
check "fwmark service -f 3 with a real server" t_fwmark_service
check "network namespaces" t_netns
check "bridge with an address" t_bridge
check "veth pairs into the namespaces, enslaved to the bridge" t_veth
check "ping host -> namespace across veth+bridge" t_ping_host_to_ns
check "ping namespace -> namespace across the bridge" t_ping_ns_to_ns
check "dummy and macvlan links" t_dummy_macvlan
check "iptables -t mangle ... -j MARK --set-mark 3" t_iptables_mark
check "packet sockets (/proc/net/packet)" t_packet_socket
check "tools run (ip ss ipvsadm curl keepalived iptables modprobe)" t_tools
check "IPVS NAT forwards an HTTP request client -> VIP -> real server (netns)" t_nat_forwarding
check "cleanup leaves no links, namespaces, IPVS services or MARK rules" t_cleaned_up

vm_summary vm-smoke
