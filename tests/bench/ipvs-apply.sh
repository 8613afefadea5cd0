#!/usr/bin/env bash
# Benchmark: cold apply of a large IPVS table, ipvsd vs ipvsadm-restore, on a real kernel.
#
#   tests/bench/ipvs-apply.sh [SERVICES] [DESTS_PER_SERVICE]     (default 1000 10)
#
# Builds ipvsd (release), generates a config with SERVICES TCP services on 203.0.113.1
# (ports 10000+) x DESTS_PER_SERVICE NAT destinations on 198.51.100.0/24, and the same
# rules in ipvsadm save format (ipvsd's own --dry-run). In the test VM, in fresh network
# namespaces, it times `ipvsadm -R` (what ipvsadm-restore runs) and `ipvsd apply` on the
# same rules, alternating, REPS times (env, default 3), checks that both produced exactly
# the rules, and prints each time and the ratio. Then it shows that re-applying the same
# config writes nothing and changing one weight writes exactly one change.
# The VM emulates its CPU (TCG): absolute times are slow; the ratio is what counts.
set -euo pipefail
cd "$(dirname "$0")/../.."

SERVICES=${1:-1000}
DESTS=${2:-10}
REPS=${REPS:-3}
OUT=target/bench
mkdir -p "$OUT"

cargo build --release --quiet
BIN=target/release/ipvsd

CFG=$OUT/ipvs-apply.yaml
{
	echo "global: {node_name: bench}"
	echo "virtual_servers:"
	for ((s = 0; s < SERVICES; s++)); do
		echo "  - {address: 203.0.113.1:$((10000 + s)), scheduler: wrr, forwarding: nat, real_servers: ["
		for ((d = 1; d <= DESTS; d++)); do
			sep=,
			((d == DESTS)) && sep=''
			echo "      {address: 198.51.100.$d:8080, weight: 1}$sep"
		done
		echo "    ]}"
	done
} >"$CFG"
# The same config with one weight changed, for the one-write check.
awk '!done && /weight: 1}/ { sub(/weight: 1}/, "weight: 5}"); done = 1 } { print }' "$CFG" >"$OUT/ipvs-apply-changed.yaml"
"$BIN" check-config "$CFG"
"$BIN" run --dry-run --config "$CFG" >"$OUT/ipvs-apply.rules"
echo "rules: $(wc -l <"$OUT/ipvs-apply.rules") lines ($SERVICES services x $DESTS destinations)"

exec bash tests/vm/run.sh --timeout 3000 tests/bench/ipvs-apply.vm.sh "$BIN" "$CFG" "$OUT/ipvs-apply.rules" "$REPS" "$OUT/ipvs-apply-changed.yaml"
