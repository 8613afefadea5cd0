#!/usr/bin/env bash
# tests/vm/lib.sh - helpers shared by the scripts that run INSIDE the test VM.
# Source it; call `vm_require NAME`, then `check`/`skip`, then `vm_summary NAME`.
# Output is TAP-like ("ok - NAME" / "not ok - NAME"), ending with the line
# "NAME: N passed, M failed[, K skipped]" that tests/run-all.sh reads.

PASSED=0 FAILED=0 SKIPPED=0

# vm_require NAME: refuse to run outside the VM (the host has no IPVS).
vm_require() {
	if [[ $(id -u) != 0 || ! -e /proc/net/ip_vs && $(hostname) != ipvsd-vm ]]; then
		echo "$1: run it inside the VM: tests/vm/run.sh ${BASH_SOURCE[1]}" >&2
		exit 2
	fi
}

# check NAME CMD...: run CMD (usually a function) with errexit on, in a
# subshell; report ok/not ok and show its output when it fails.
check() {
	local name=$1 out rc
	shift
	set +e
	out=$(
		set -e
		"$@" 2>&1
	)
	rc=$?
	set -e
	if ((rc == 0)); then
		echo "ok - $name"
		PASSED=$((PASSED + 1))
	else
		echo "not ok - $name"
		[[ -z $out ]] || printf '#   %s\n' "${out//$'\n'/$'\n'#   }"
		FAILED=$((FAILED + 1))
	fi
}

skip() {
	echo "ok - $1 # SKIP $2"
	SKIPPED=$((SKIPPED + 1))
}

# expect_line TEXT LINE: fail (showing TEXT) unless LINE is one of TEXT's lines.
expect_line() {
	if ! grep -qxF -- "$2" <<<"$1"; then
		printf 'expected line: %s\ngot:\n%s\n' "$2" "$1"
		return 1
	fi
}

# expect_eq WHAT EXPECTED GOT: fail with both texts unless they are equal.
expect_eq() {
	if [[ $2 != "$3" ]]; then
		printf '%s differs.\n--- expected\n%s\n--- got\n%s\n' "$1" "$2" "$3"
		return 1
	fi
}

has_module() {
	modinfo "$1" >/dev/null 2>&1 || grep -q "/$1.ko" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null
}

# vm_summary NAME: print the summary line; the return status is 0 only if nothing failed.
vm_summary() {
	local summary="$1: $PASSED passed, $FAILED failed"
	((SKIPPED == 0)) || summary+=", $SKIPPED skipped"
	echo "$summary"
	((FAILED == 0))
}
