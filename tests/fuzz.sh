#!/usr/bin/env bash
# Runs each fuzz target (fuzz/fuzz_targets: vrrp, netlink, config) under libFuzzer for a
# set time and reports executions, corpus size and crashes per target.
#
#   tests/fuzz.sh [SECONDS] [TARGET...]     # default 30 s each (the smoke run-all does)
#   tests/fuzz.sh 600                       # the 10-minute runs of issue 9
#
# The fuzzers start from fuzz/seeds/<target> (captured packets and replies, the shipped
# configs) and keep what they find in fuzz/corpus/<target> (not committed). A crash is a
# failure: the input is left in fuzz/artifacts/<target>/; once fixed, copy it into
# fuzz/regressions/<target>/, where tests/fuzz_inputs.rs replays it in every cargo test.
#
# Needs cargo-fuzz (installed here, pinned, when missing) and a nightly toolchain for the
# sanitizer flags; without nightly, stable is used with RUSTC_BOOTSTRAP=1. Ends with
# "fuzz: N passed, M failed" (one per target).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

SECONDS_EACH=${1:-30}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(vrrp netlink config)
CARGO_FUZZ_VERSION=0.13.2

passed=0 failed=0
finish() {
  echo "fuzz: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

export PATH="$HOME/.cargo/bin:$PATH"
if ! grep -q "$CARGO_FUZZ_VERSION" <<<"$(cargo fuzz --version 2>/dev/null)"; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  if ! cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"; then
    echo "not ok: cargo-fuzz could not be installed"
    failed=${#TARGETS[@]}
    finish
  fi
fi
if grep -q '^nightly' <<<"$(rustup toolchain list 2>/dev/null)"; then
  FUZZ=(cargo +nightly fuzz)
  echo "toolchain: $(rustc +nightly --version)"
else
  FUZZ=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
  echo "toolchain: $(rustc --version) with RUSTC_BOOTSTRAP=1 (no nightly installed)"
fi

echo "building the fuzz targets (release, AddressSanitizer)"
if ! "${FUZZ[@]}" build -O 2>&1 | tail -3; then
  echo "not ok: the fuzz targets did not build"
  failed=${#TARGETS[@]}
  finish
fi

for t in "${TARGETS[@]}"; do
  corpus=fuzz/corpus/$t
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  log=$(mktemp)
  echo "--- $t: ${SECONDS_EACH}s"
  # -timeout: one input taking over 10 s is a finding too (a loop, a quadratic path).
  "${FUZZ[@]}" run -O "$t" "$corpus" "fuzz/seeds/$t" -- \
    -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  crashes=$(grep -cE '^==[0-9]+==|panicked at|deadly signal|Test unit written to' "$log")
  units=$(find "$corpus" -type f | wc -l)
  echo "$t: executions ${execs:-?} (${speed:-?}/s), coverage ${cov:-?} edges, corpus $units inputs, exit $rc"
  if [ "$rc" -eq 0 ] && [ -n "$execs" ] && [ "$execs" -gt 0 ] && [ "$crashes" -eq 0 ]; then
    echo "ok: $t: 0 crashes"
    passed=$((passed + 1))
  else
    echo "not ok: $t: crashed or did not run; the fuzzer's output:"
    tail -40 "$log"
    ls -l "fuzz/artifacts/$t/" 2>/dev/null
    failed=$((failed + 1))
  fi
  rm -f "$log"
done
finish
