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
#
# Set IPVSD_SKIP_VM=1 to skip the VM tests; they are then reported as skipped, with the
# reason, never as passed. Exit status: 0 only if nothing failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
REPO=$(pwd)
LOG_DIR="$REPO/target/test-logs"
mkdir -p "$LOG_DIR"

# Scripts run inside the VM; each ends with a line "NAME: N passed, M failed".
VM_TESTS=(
  tests/vm/smoke.sh
  tests/vm/netlink.sh
  tests/vm/daemon.sh
  tests/vm/checks.sh
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

# --- 3. real-kernel tests in the VM ------------------------------------------------------
if [ "${IPVSD_SKIP_VM:-}" = 1 ]; then
  note "VM tests SKIPPED (IPVSD_SKIP_VM=1): ${#VM_TESTS[@]} scripts not run"
  skipped=$((skipped + ${#VM_TESTS[@]}))
else
  note "VM: building the VM-only test binaries and preparing the kernel and initramfs"
  if ! cargo build --quiet || ! cargo test --no-run --quiet --features vm-tests --test vm_netlink --test vm_netlink_admin; then
    fail "${#VM_TESTS[@]}" "VM test binaries did not build: ${#VM_TESTS[@]} VM test scripts not run"
  elif ! bash tests/vm/run.sh --prepare; then
    fail "${#VM_TESTS[@]}" "VM could not be prepared: ${#VM_TESTS[@]} VM test scripts not run"
  else
    for t in "${VM_TESTS[@]}"; do
      note "VM: $t"
      log="$LOG_DIR/vm-$(basename "$t" .sh).log"
      bash tests/vm/run.sh "$t" 2>&1 | tee "$log"
      rc=${PIPESTATUS[0]}
      line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
      if [ -z "$line" ]; then
        fail 1 "$t: no summary line (exit $rc)"
        continue
      fi
      vp=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
      vf=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
      vs=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")
      pass "$vp"
      skipped=$((skipped + ${vs:-0}))
      if [ "$vf" -gt 0 ]; then
        fail "$vf" "$t ($vf failed)"
      elif [ "$rc" -ne 0 ]; then
        fail 1 "$t exited $rc"
      fi
    done
  fi
fi

note "summary"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
[ "$skipped" -gt 0 ] && echo "($skipped skipped: see the output above for why)"
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
