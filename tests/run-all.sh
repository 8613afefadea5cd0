#!/usr/bin/env bash
# Runs every test of ipvsd on this machine and prints one closing summary line.
#
#   sudo tests/run-all.sh
#
# 1. lint: cargo fmt --check, cargo clippy -D warnings
# 2. unit and integration tests: cargo test (the daemon, config, CLI; no root needed)
# 3. real-kernel tests: each script in VM_TESTS runs inside a qemu VM booting a stock
#    Debian kernel with IPVS (tests/vm/run.sh installs qemu & co. with apt-get and caches
#    the kernel). This machine's kernel has no IPVS, so these cannot run on the host.
#    VM_TESTS_NEWER run again on the next Debian release's kernel (IPVSD_VM_NEWER_SUITE,
#    default trixie; empty skips them, reported as skipped).
# 4. tests that need root on the host (network namespaces: tests/vrrp_netif.rs,
#    tests/vrrp_socket.rs) run in step 2, and HOST_TESTS (two ipvsd directors, and
#    ipvsd with keepalived, over VRRP; promtool on the alert rules; the systemd unit; the
#    .deb and .rpm packages) after it; as a non-root user they fail, they do not pass
#    silently.
#
# Set IPVSD_SKIP_VM=1 to skip the VM tests; they are then reported as skipped, with the
# reason, never as passed. Exit status: 0 only if nothing failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
REPO=$(pwd)
# ipvsd refuses a config file every user can write. A checkout made under umask 000 would
# make the shipped conf/ files so; the tests load them.
umask 022
chmod o-w conf/*.yaml 2>/dev/null || true
LOG_DIR="$REPO/target/test-logs"
mkdir -p "$LOG_DIR"

# Scripts run inside the VM; each ends with a line "NAME: N passed, M failed".
VM_TESTS=(
  tests/vm/smoke.sh
  tests/vm/netlink.sh
  tests/vm/daemon.sh
  tests/vm/checks.sh
  tests/vm/vrrp.sh
  tests/vm/hitless.sh
  tests/vm/labs.sh
  tests/vm/nat.sh
  tests/vm/import.sh
  tests/vm/privileges.sh
)
# Run again on the next Debian release's kernel (6.12): its IPVS has the twos scheduler,
# which the stable kernel (6.1) lacks, so every scheduler is tested on a real kernel.
NEWER_SUITE=${IPVSD_VM_NEWER_SUITE:-trixie}
VM_TESTS_NEWER=(
  tests/vm/smoke.sh
  tests/vm/netlink.sh
)

passed=0 failed=0 skipped=0
failures=()

note() { printf '\n=== %s\n' "$*"; }
pass() { passed=$((passed + $1)); }
fail() { failed=$((failed + $1)); failures+=("$2"); }

if ! command -v cargo >/dev/null 2>&1; then
  for d in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
    [ -x "$d/cargo" ] && PATH="$d:$PATH"
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "run-all: cargo not found: install a Rust toolchain (https://rustup.rs) first" >&2
  echo "total: 0 passed, 1 failed, 0 skipped"
  exit 1
fi

# --- 1. lint -------------------------------------------------------------------------
note "lint: cargo fmt --check"
if cargo fmt --all -- --check; then pass 1; else fail 1 "cargo fmt --check"; fi

note "lint: cargo clippy --all-targets -- -D warnings"
if cargo clippy --all-targets --quiet -- -D warnings; then pass 1; else fail 1 "cargo clippy"; fi

# Shell scripts parse, and none pipes into `grep -q`: under pipefail grep's early exit can
# kill the writer with SIGPIPE and fail the pipeline at random (a `bash -c "..."` string
# runs without pipefail and is allowed).
note "lint: shell scripts (bash -n; no pipe into grep -q)"
lint_ok=1
while IFS= read -r script; do
  bash -n "$script" || { echo "$script: does not parse"; lint_ok=0; }
done < <(git ls-files '*.sh')
if early=$(git ls-files -z '*.sh' |
  xargs -0 grep -nE '(^|[^|])\|[[:space:]]*grep[[:space:]]+(-[A-Za-z]*q|--quiet)' |
  grep -vE 'bash -c|^[^:]+:[0-9]+:[[:space:]]*#'); then
  printf '%s\n' "$early"
  lint_ok=0
fi
if ((lint_ok)); then pass 1; else fail 1 "shell script lint"; fi

# --- 2. cargo test -------------------------------------------------------------------
note "cargo test"
cargo_log="$LOG_DIR/cargo-test.log"
cargo test --no-fail-fast 2>&1 | tee "$cargo_log"
cargo_rc=${PIPESTATUS[0]}
read -r cp cf ci < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) {
      if ($(i+1) ~ /^passed/) p += $i
      if ($(i+1) ~ /^failed/) f += $i
      if ($(i+1) ~ /^ignored/) s += $i
    }
  } END { print p+0, f+0, s+0 }' "$cargo_log")
pass "$cp"
skipped=$((skipped + ci))
if [ "$cf" -gt 0 ]; then
  fail "$cf" "cargo test ($cf failed)"
elif [ "$cargo_rc" -ne 0 ]; then
  fail 1 "cargo test exited $cargo_rc (build error?)"
fi

# count_summary NAME LOG RC: add the counts of the script's summary line
# ("NAME: N passed, M failed[, K skipped]"); no line, or a non-zero exit with no failure
# counted, is a failure.
count_summary() {
  local name=$1 log=$2 rc=$3 line p f k
  line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    fail 1 "$name: no summary line (exit $rc)"
    return
  fi
  p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  k=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")
  pass "$p"
  skipped=$((skipped + ${k:-0}))
  if [ "$f" -gt 0 ]; then
    fail "$f" "$name ($f failed)"
  elif [ "$rc" -ne 0 ]; then
    fail 1 "$name exited $rc"
  fi
}

# --- 2b. host tests (root) ---------------------------------------------------------------
# VRRP between two ipvsd directors, and with keepalived, in network namespaces on this
# machine's kernel; `ipvsd realserver` in a namespace; the shipped Prometheus alert rules
# and dashboard (promtool); the systemd unit (systemd-analyze verify, with the generated
# man pages); the .deb and .rpm (built, inspected, the .deb installed here and purged);
# a 30-second smoke of each fuzz target (tests/fuzz.sh; nightly, cargo-fuzz installed).
HOST_TESTS=(
  tests/netns/vrrp.sh
  tests/netns/realserver.sh
  tests/prometheus.sh
  tests/systemd.sh
  tests/packaging.sh
  tests/fuzz.sh
)
for t in "${HOST_TESTS[@]}"; do
  note "host: $t"
  log="$LOG_DIR/host-$(basename "$t" .sh).log"
  if ! cargo build --quiet --release; then
    fail 1 "$t: release build failed"
    continue
  fi
  IPVSD="$REPO/target/release/ipvsd" bash "$t" 2>&1 | tee "$log"
  count_summary "$t" "$log" "${PIPESTATUS[0]}"
done

# run_vm_tests SUITE SCRIPT...: each script in the VM (SUITE: kernel from that Debian suite,
# empty for this machine's), counted from its summary line.
run_vm_tests() {
  local suite=$1 t log
  shift
  for t in "$@"; do
    note "VM${suite:+ ($suite kernel)}: $t"
    log="$LOG_DIR/vm${suite:+-$suite}-$(basename "$t" .sh).log"
    IPVSD_VM_SUITE=$suite bash tests/vm/run.sh "$t" 2>&1 | tee "$log"
    count_summary "$t${suite:+ ($suite)}" "$log" "${PIPESTATUS[0]}"
  done
}

# --- 3. real-kernel tests in the VM ------------------------------------------------------
if [ "${IPVSD_SKIP_VM:-}" = 1 ]; then
  n=$((${#VM_TESTS[@]} + ${#VM_TESTS_NEWER[@]}))
  note "VM tests SKIPPED (IPVSD_SKIP_VM=1): $n scripts not run"
  skipped=$((skipped + n))
else
  note "VM: building the VM-only test binaries and preparing the kernel and initramfs"
  if ! cargo build --quiet || ! cargo build --quiet --example openmetrics --example labserver ||
    ! cargo test --no-run --quiet --features vm-tests --test vm_netlink --test vm_netlink_admin; then
    n=$((${#VM_TESTS[@]} + ${#VM_TESTS_NEWER[@]}))
    fail "$n" "VM test binaries did not build: $n VM test scripts not run"
  elif ! bash tests/vm/run.sh --prepare; then
    fail "${#VM_TESTS[@]}" "VM could not be prepared: ${#VM_TESTS[@]} VM test scripts not run"
  else
    run_vm_tests "" "${VM_TESTS[@]}"
    # The README's "see it work" command: it stops at the first step that does not happen.
    note "VM: scripts/lab (the README's see-it-work command)"
    if bash scripts/lab 2>&1 | tee "$LOG_DIR/lab.log"; then pass 1; else fail 1 "scripts/lab"; fi
    if [ -z "$NEWER_SUITE" ]; then
      note "VM tests on a newer kernel SKIPPED (IPVSD_VM_NEWER_SUITE is empty): ${#VM_TESTS_NEWER[@]} scripts not run"
      skipped=$((skipped + ${#VM_TESTS_NEWER[@]}))
    elif ! IPVSD_VM_SUITE=$NEWER_SUITE bash tests/vm/run.sh --prepare; then
      fail "${#VM_TESTS_NEWER[@]}" "VM with the $NEWER_SUITE kernel could not be prepared: ${#VM_TESTS_NEWER[@]} VM test scripts not run"
    else
      run_vm_tests "$NEWER_SUITE" "${VM_TESTS_NEWER[@]}"
    fi
  fi
fi

note "summary"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
[ "$skipped" -gt 0 ] && echo "($skipped skipped: see the output above for why)"
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
