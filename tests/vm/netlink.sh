#!/usr/bin/env bash
# tests/vm/netlink.sh - the netlink backend (src/ipvs/netlink) against a real IPVS kernel.
#
#   bash tests/vm/netlink.sh             on the host: build the test binaries, boot the VM,
#                                        run them there (via tests/vm/run.sh)
#   bash tests/vm/run.sh tests/vm/netlink.sh
#                                        in the VM, with binaries built before (cargo test
#                                        --no-run --features vm-tests builds them)
#   IPVSD_VM_EXTRA=strace IPVSD_VM_CACHE=$PWD/target/vm-strace \
#     bash tests/vm/run.sh tests/vm/netlink.sh --capture
#                                        in the VM: print what ipvsadm sends and receives
#                                        (strace), the source of the byte vectors in
#                                        tests/netlink_codec.rs
#   ... tests/vm/netlink.sh --capture-datagrams
#                                        the same for whole datagrams (hex dumps with the
#                                        netlink headers, the controller's exchange
#                                        included): add a service twice, list
#
# In the VM every #[ignore]d test of tests/vm_netlink*.rs runs in a fresh network namespace
# (IPVS state is per namespace) with IPVSD_VM=1. A test that prints "vm-netlink-skip: WHY"
# is counted as skipped, not passed. The last line is
# "vm-netlink: N passed, M failed, K skipped"; the exit status is non-zero on any failure.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$REPO" || exit 2
TARGETS=(vm_netlink vm_netlink_admin)

# ------------------------------------------------------------------ host: build, boot
if [[ ${1:-} != --guest && ${1:-} != --capture* ]] && command -v cargo >/dev/null 2>&1; then
	args=()
	for t in "${TARGETS[@]}"; do args+=(--test "$t"); done
	cargo test --no-run --features vm-tests "${args[@]}" || exit 2
	exec bash "$REPO/tests/vm/run.sh" "$REPO/tests/vm/netlink.sh" --guest
fi

if [[ ! -e /proc/net/ip_vs ]]; then
	echo "vm-netlink: this kernel has no IPVS; run: bash tests/vm/netlink.sh (it boots the VM)"
	echo "vm-netlink: 0 passed, 1 failed, 0 skipped"
	exit 1
fi

# ------------------------------------------------------------------ guest: capture mode
capture() {
	local name=$1
	shift
	echo "== capture: $name: ipvsadm $*"
	# Everything but the generic netlink controller traffic (nlmsg_type 0x10).
	strace -f -xx -s 65535 -e trace=sendmsg,recvmsg ipvsadm "$@" 2>&1 |
		grep -v -e 'nlmsg_type=0x10 ' -e '^+++ exited'
	echo "== end: $name"
}

# Every datagram in full: libipvs uses one socket per message, always fd 3.
capture_datagrams() {
	local name=$1
	shift
	echo "== capture: $name: ipvsadm $*"
	strace -f -xx -s 65535 -e trace=sendmsg,recvmsg -e read=3 -e write=3 ipvsadm "$@" 2>&1 |
		grep -v -e '^+++ exited'
	echo "== end: $name"
}

if [[ ${1:-} == --capture* ]]; then
	command -v strace >/dev/null || {
		echo "vm-netlink: strace is not in the initramfs: rerun with IPVSD_VM_EXTRA=strace" \
			"(and a separate IPVSD_VM_CACHE to keep the shared cache as it is)"
		exit 2
	}
	if [[ $1 == --capture-datagrams ]]; then
		capture_datagrams add-service -A -t 192.0.2.1:80 -s rr
		capture_datagrams add-service-again -A -t 192.0.2.1:80 -s rr
		capture_datagrams list -L -n
		exit 0
	fi
	ip link add sync0 type dummy && ip link set sync0 multicast on up &&
		ip addr add 192.0.2.10/24 dev sync0
	capture add-service-tcp4 -A -t 192.0.2.1:80 -s rr
	capture add-dest-nat -a -t 192.0.2.1:80 -r 198.51.100.1:8080 -m -w 5
	capture add-service-udp6-persistent -A -u '[2001:db8::1]:53' -s wlc -p 300 -M 64
	capture add-dest-gue -a -u '[2001:db8::1]:53' -r '[2001:db8::10]:53' -i \
		--tun-type gue --tun-port 6080 --tun-csum -w 2 -x 100 -y 50
	capture add-service-fwmark -A -f 7 -s sh -b sh-port -p 60 -M 255.255.255.0 -o
	capture edit-service -E -t 192.0.2.1:80 -s wlc
	capture edit-dest -e -t 192.0.2.1:80 -r 198.51.100.1:8080 -g -w 9
	capture list -L -n
	capture get-service -L -n -t 192.0.2.1:80
	capture del-dest -d -t 192.0.2.1:80 -r 198.51.100.1:8080
	capture del-service -D -t 192.0.2.1:80
	capture get-timeouts -L --timeout
	capture set-timeouts --set 1000 60 200
	capture start-daemon --start-daemon master --mcast-interface sync0 --syncid 5
	capture list-daemons -L --daemon
	capture stop-daemon --stop-daemon master
	exit 0
fi

# ------------------------------------------------------------------ guest: run the tests
# The newest build of each test target, refused if older than the code it tests. (Plain
# bash: the guest's find and stat are busybox.)
shopt -s globstar nullglob
sources=(src/**/*.rs tests/vm_netlink*.rs tests/vm_netlink_common/*.rs Cargo.lock)
bins=()
for t in "${TARGETS[@]}"; do
	bin=''
	for f in target/debug/deps/"$t"-*; do
		[[ -f $f && -x $f && ${f##*-} =~ ^[0-9a-f]+$ ]] || continue
		[[ -z $bin || $f -nt $bin ]] && bin=$f
	done
	if [[ -z $bin ]]; then
		echo "vm-netlink: no test binary for $t: build it first (cargo test --no-run --features vm-tests --test $t)"
		echo "vm-netlink: 0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	for f in "${sources[@]}"; do
		if [[ $f -nt $bin ]]; then
			echo "vm-netlink: $bin is older than $f: rebuild (cargo test --no-run --features vm-tests --test $t)"
			echo "vm-netlink: 0 passed, 1 failed, 0 skipped"
			exit 1
		fi
	done
	bins+=("$bin")
done

passed=0 failed=0 skipped=0 n=0
failures=()
for bin in "${bins[@]}"; do
	mapfile -t tests < <("$bin" --list --ignored 2>/dev/null | sed -n 's/: test$//p')
	if ((${#tests[@]} == 0)); then
		echo "vm-netlink: $bin lists no tests"
		failed=$((failed + 1))
		failures+=("$(basename "$bin"): no tests")
		continue
	fi
	for t in "${tests[@]}"; do
		n=$((n + 1))
		ns="vmnl$n"
		ip netns add "$ns" && ip -n "$ns" link set lo up
		out=$(ip netns exec "$ns" env IPVSD_VM=1 RUST_BACKTRACE=1 \
			"$bin" --ignored --exact "$t" --test-threads=1 --nocapture 2>&1)
		rc=$?
		ip netns del "$ns"
		if ((rc != 0)); then
			failed=$((failed + 1))
			failures+=("$t")
			echo "FAIL $t"
			sed 's/^/    /' <<<"$out"
		elif reason=$(grep -m1 '^vm-netlink-skip: ' <<<"$out"); then
			skipped=$((skipped + 1))
			echo "SKIP $t (${reason#vm-netlink-skip: })"
		elif grep -q '^test result: ok. 1 passed' <<<"$out"; then
			passed=$((passed + 1))
			echo "ok   $t"
		else
			failed=$((failed + 1))
			failures+=("$t")
			echo "FAIL $t (did not run)"
			sed 's/^/    /' <<<"$out"
		fi
	done
done

for f in "${failures[@]}"; do echo "vm-netlink: FAILED $f"; done
echo "vm-netlink: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
