#!/usr/bin/env bash
# tests/vm/import.sh - `ipvsd import` against real IPVS tables, run INSIDE the VM:
#
#   cargo build && tests/vm/run.sh tests/vm/import.sh
#
# ipvsadm: for each shape of rules (NAT with port mapping, DR, weights 0, UDP with one-packet
# and sh flags, SCTP, persistence with netmask and the SIP engine, all-ports services,
# IPv6 services, IPv4 and IPv6 firewall marks, ipip/gue/gre tunnels with checksum options,
# an IPv6 real server through a tunnel, connection thresholds) the rules are made with
# ipvsadm in a network namespace, saved with `ipvsadm -S -n`, converted with `ipvsd import
# ipvsadm`, and `ipvsd run --dry-run` of the result must print the saved rules exactly.
# Then the converted config is applied (`ipvsd apply`) in a fresh namespace and the kernel
# must hold the same rules again.
#
# keepalived: keepalived itself (checker process only, no health checkers so every real
# server is in) builds its table from a keepalived.conf in a namespace; `ipvsd import
# keepalived` of the same file, run with --dry-run, must print keepalived's table.
#
# Prints "ok - NAME" / "not ok - NAME" per check, then "vm-import: N passed, M failed".
# Only documentation address ranges are used; everything created is removed.
set -euo pipefail

# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_require vm-import

REPO=$(pwd)
IPVSD=$REPO/target/debug/ipvsd
WORK=/tmp/vm-import
NS=vmimp
KA_PID=''

in_ns() { ip netns exec "$NS" "$@"; }
fresh_ns() {
	ip netns del "$NS" 2>/dev/null || true
	ip netns add "$NS"
	in_ns ip link set lo up
}

# roundtrip NAME: the rules made by rules_NAME come back from import + --dry-run, and from
# import + apply in a fresh namespace.
roundtrip() {
	local name=$1 saved dry applied
	fresh_ns
	"rules_$name"
	saved=$(in_ns ipvsadm -S -n)
	[[ -n $saved ]] || { echo "no rules were made"; return 1; }
	printf '%s\n' "$saved" >"$WORK/$name.rules"
	"$IPVSD" import ipvsadm "$WORK/$name.rules" -o "$WORK/$name.yaml" 2>"$WORK/$name.err" ||
		{ cat "$WORK/$name.err"; return 1; }
	# The only thing on stderr is the note that there are no health checks.
	if grep -v '^note: ipvsadm rules have no health checks' "$WORK/$name.err"; then
		echo "unexpected output on stderr (above)"
		return 1
	fi
	"$IPVSD" check-config "$WORK/$name.yaml" >/dev/null
	dry=$("$IPVSD" run --dry-run --config "$WORK/$name.yaml")
	expect_eq "$name: --dry-run of the imported config vs ipvsadm -S -n" "$saved" "$dry"
	fresh_ns
	in_ns "$IPVSD" apply --config "$WORK/$name.yaml" >/dev/null
	applied=$(in_ns ipvsadm -S -n)
	expect_eq "$name: the kernel after ipvsd apply vs the original rules" "$saved" "$applied"
}

# ------------------------------------------------------------------ shapes (ipvsadm)
rules_nat_dr() {
	in_ns ipvsadm -A -t 192.0.2.1:80 -s wrr
	in_ns ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.2:8080 -m -w 3
	in_ns ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.3:8081 -m -w 1
	in_ns ipvsadm -A -t 192.0.2.1:443 -s lc
	in_ns ipvsadm -a -t 192.0.2.1:443 -r 198.51.100.2 -g -w 5
	in_ns ipvsadm -a -t 192.0.2.1:443 -r 198.51.100.3 -g -w 0
	in_ns ipvsadm -A -t 203.0.113.9:25 -s nq
}

rules_udp_sctp_flags() {
	in_ns ipvsadm -A -u 192.0.2.53:53 -s sh -o -b sh-fallback,sh-port
	in_ns ipvsadm -a -u 192.0.2.53:53 -r 198.51.100.53 -g -w 1
	in_ns ipvsadm -a -u 192.0.2.53:53 -r 198.51.100.54 -g -w 1
	in_ns ipvsadm -A -u 192.0.2.54:5353 -s rr -b flag-2
	in_ns ipvsadm -a -u 192.0.2.54:5353 -r 198.51.100.55:53 -m -w 2
	in_ns ipvsadm -A --sctp-service 192.0.2.9:3868 -s wlc
	in_ns ipvsadm -a --sctp-service 192.0.2.9:3868 -r 198.51.100.9 -m -w 1
}

rules_persistence() {
	in_ns ipvsadm -A -t 192.0.2.20:0 -s rr -p 360
	in_ns ipvsadm -a -t 192.0.2.20:0 -r 198.51.100.20 -g -w 1
	in_ns ipvsadm -a -t 192.0.2.20:0 -r 198.51.100.21 -g -w 1
	in_ns ipvsadm -A -t 192.0.2.21:443 -s wlc -p 1800 -M 255.255.0.0
	in_ns ipvsadm -a -t 192.0.2.21:443 -r 198.51.100.22 -g -w 1
	if has_module ip_vs_pe_sip; then
		in_ns ipvsadm -A -u 192.0.2.22:5060 -s sh -p 600 -M 255.255.255.0 --pe sip
		in_ns ipvsadm -a -u 192.0.2.22:5060 -r 198.51.100.23 -g -w 1
	fi
}

rules_ipv6_fwmark() {
	in_ns ipvsadm -A -t '[2001:db8::1]:443' -s wlc -p 300 -M 64
	in_ns ipvsadm -a -t '[2001:db8::1]:443' -r '[2001:db8::10]:8443' -m -w 2
	in_ns ipvsadm -a -t '[2001:db8::1]:443' -r '[2001:db8::11]:8443' -m -w 2
	in_ns ipvsadm -A -u '[2001:db8::53]:53' -s rr
	in_ns ipvsadm -a -u '[2001:db8::53]:53' -r '[2001:db8:1::53]:53' -g -w 1
	in_ns ipvsadm -A -f 7 -s mh -b mh-fallback,mh-port
	in_ns ipvsadm -a -f 7 -r 198.51.100.7 -g -w 1
	in_ns ipvsadm -A -f 7 -6 -s wrr -p 60
	in_ns ipvsadm -a -f 7 -6 -r 2001:db8::70 -g -w 4
	in_ns ipvsadm -a -f 7 -6 -r 2001:db8::71 -g -w 2
	in_ns ipvsadm -A -f 8 -s rr -o
	in_ns ipvsadm -a -f 8 -r 198.51.100.8:8080 -m -w 1
}

rules_tunnels() {
	in_ns ipvsadm -A -t 192.0.2.30:80 -s rr
	in_ns ipvsadm -a -t 192.0.2.30:80 -r 198.51.100.30 -i -w 1
	in_ns ipvsadm -a -t 192.0.2.30:80 -r 198.51.100.31 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
	in_ns ipvsadm -a -t 192.0.2.30:80 -r 198.51.100.32 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
	in_ns ipvsadm -a -t 192.0.2.30:80 -r 198.51.100.33 -i -w 1 --tun-type gre --tun-csum
	in_ns ipvsadm -a -t 192.0.2.30:80 -r 198.51.100.34 -g -w 1
	in_ns ipvsadm -a -t 192.0.2.30:80 -r '[2001:db8::35]:80' -i -w 1 --tun-type gue --tun-port 5555 --tun-csum
	in_ns ipvsadm -A -f 9 -s rr
	in_ns ipvsadm -a -f 9 -r 198.51.100.36 -i -w 1 --tun-type gre
}

# ipvsadm -S does not save thresholds: they cannot be imported, and the round trip holds.
rules_thresholds() {
	in_ns ipvsadm -A -t 192.0.2.40:80 -s wlc
	in_ns ipvsadm -a -t 192.0.2.40:80 -r 198.51.100.40:80 -m -w 100 -x 500 -y 400
	in_ns ipvsadm -a -t 192.0.2.40:80 -r 198.51.100.41:80 -m -w 65535
}

rules_everything() {
	rules_nat_dr
	rules_udp_sctp_flags
	rules_persistence
	rules_ipv6_fwmark
	rules_tunnels
	rules_thresholds
}

# ------------------------------------------------------------------ keepalived
KA_CONF=$WORK/keepalived.conf

write_keepalived_conf() {
	cat >"$KA_CONF" <<-'EOF'
		global_defs {
		    router_id vm-import
		}
		virtual_server 192.0.2.70 80 {
		    lb_algo wrr
		    lb_kind NAT
		    protocol TCP
		    real_server 198.51.100.71 8080 {
		        weight 3
		    }
		    real_server 198.51.100.72 8080 {
		    }
		}
		virtual_server 192.0.2.70 53 {
		    lb_algo sh
		    sh-port
		    ops
		    lb_kind DR
		    protocol UDP
		    persistence_timeout 600
		    persistence_granularity 255.255.255.0
		    real_server 198.51.100.73 53 {
		        weight 2
		    }
		}
		virtual_server 192.0.2.71 0 {
		    # no protocol: keepalived's default is UDP
		    lb_algo rr
		    lb_kind DR
		    persistence_timeout
		    real_server 198.51.100.74 {
		    }
		}
		virtual_server fwmark 11 {
		    lb_algo rr
		    lb_kind TUN type gue port 6080 csum
		    real_server 198.51.100.75 {
		        lvs_method TUN
		    }
		    real_server 198.51.100.76 {
		    }
		}
		virtual_server 2001:db8::70 443 {
		    lb_algo mh
		    mh-fallback
		    lb_kind DR
		    protocol TCP
		    persistence_timeout 120
		    persistence_granularity 64
		    real_server 2001:db8:1::71 443 {
		    }
		}
		virtual_server_group web {
		    192.0.2.80-81 80
		    fwmark 12
		}
		virtual_server group web {
		    lb_algo lc
		    lb_kind DR
		    protocol TCP
		    real_server 198.51.100.81 80 {
		        weight 4
		    }
		}
	EOF
}

# Runs keepalived's checker process in the namespace until its table has N services.
start_keepalived() {
	local want=$1 i n
	# No --log-console: it writes to the VM's console, in the middle of the test output.
	in_ns keepalived --dont-fork --check --use-file="$KA_CONF" \
		--pid="$WORK/ka.pid" --checkers_pid="$WORK/ka-checker.pid" >"$WORK/keepalived.log" 2>&1 &
	KA_PID=$!
	for ((i = 0; i < 100; i++)); do
		n=$(in_ns ipvsadm -S -n | grep -c '^-A' || true)
		((n >= want)) && return 0
		sleep 0.1
	done
	echo "keepalived made $n services, not $want (run it with --log-console to see why):"
	cat "$WORK/keepalived.log"
	return 1
}

stop_keepalived() {
	[[ -n $KA_PID ]] || return 0
	kill "$KA_PID" 2>/dev/null || true
	wait "$KA_PID" 2>/dev/null || true
	KA_PID=''
}

t_keepalived_table() {
	local saved dry
	fresh_ns
	write_keepalived_conf
	# 2 + 1 + 1 + 1 services, and the group's 2 addresses + 1 mark.
	start_keepalived 8
	sleep 0.5 # let it add the last real servers
	saved=$(in_ns ipvsadm -S -n)
	stop_keepalived
	"$IPVSD" import keepalived "$KA_CONF" -o "$WORK/ka.yaml" 2>"$WORK/ka.err" ||
		{ cat "$WORK/ka.err"; return 1; }
	# One item: the service without `protocol`, UDP in keepalived and in the import.
	expect_eq "import's list of items not converted" \
		"$KA_CONF:26: virtual_server: no \`protocol\`: keepalived uses UDP (its log says \"no protocol set - defaulting to UDP\"), and so does this config; if TCP was meant, write \`protocol: tcp\`
1 item not converted (also listed in the config's header)" "$(cat "$WORK/ka.err")"
	dry=$("$IPVSD" run --dry-run --config "$WORK/ka.yaml")
	expect_eq "keepalived's own table vs --dry-run of the imported config" "$saved" "$dry"
}

# ------------------------------------------------------------------ cleanup
cleanup() {
	set +e
	stop_keepalived
	# A keepalived left running by a failed check (its subshell knew the pid).
	[[ -f $WORK/ka.pid ]] && kill "$(cat "$WORK/ka.pid")" 2>/dev/null && sleep 1
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# ------------------------------------------------------------------ run
echo "# vm-import on $(uname -r)"
if [[ ! -x $IPVSD ]]; then
	echo "not ok - $IPVSD is built (run cargo build first)"
	FAILED=1
	vm_summary vm-import
	exit 1
fi
mkdir -p "$WORK"
has_module ip_vs_pe_sip || echo "# ip_vs_pe_sip is not in this kernel: the SIP engine rules are left out"
check "ipvsadm: NAT with port mapping, DR, weight 0, a service without real servers" roundtrip nat_dr
check "ipvsadm: UDP one-packet with sh flags, flag-2, SCTP" roundtrip udp_sctp_flags
check "ipvsadm: persistence, netmask, all ports, SIP engine" roundtrip persistence
check "ipvsadm: IPv6 services, IPv4 and IPv6 firewall marks" roundtrip ipv6_fwmark
check "ipvsadm: ipip, gue and gre tunnels with checksum options, IPv6 through a tunnel" roundtrip tunnels
check "ipvsadm: connection thresholds (not in ipvsadm's save)" roundtrip thresholds
check "ipvsadm: all of the above in one table" roundtrip everything
if command -v keepalived >/dev/null; then
	check "keepalived: its own IPVS table equals --dry-run of the imported keepalived.conf" t_keepalived_table
else
	skip "keepalived: its own IPVS table equals --dry-run of the imported keepalived.conf" "no keepalived in the VM"
fi
vm_summary vm-import
