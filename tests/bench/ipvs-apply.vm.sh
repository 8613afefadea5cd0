#!/usr/bin/env bash
# The in-VM half of tests/bench/ipvs-apply.sh (see there).
# Args: BIN CONFIG RULES REPS CHANGED_CONFIG (CONFIG with one weight changed).
set -euo pipefail
BIN=$1 CFG=$2 RULES=$3 REPS=$4 CHANGED=$5
expected=$(cat "$RULES")
lines=$(wc -l <"$RULES")

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# run_one TOOL: apply the rules with TOOL in a fresh namespace; prints milliseconds.
run_one() {
	local ns=bench-$1-$RANDOM t0 t1 got
	ip netns add "$ns"
	# IPVS refuses destinations while the namespace's lo is down (EINVAL).
	ip -n "$ns" link set lo up
	t0=$(now_ms)
	case $1 in
	ipvsadm) ip netns exec "$ns" ipvsadm -R <"$RULES" ;;
	ipvsd) ip netns exec "$ns" "$BIN" apply --config "$CFG" >/dev/null ;;
	esac
	t1=$(now_ms)
	got=$(ip netns exec "$ns" ipvsadm -S -n)
	if [[ $got != "$expected" ]]; then
		echo "bench: $1 did not produce the expected $lines rules" >&2
		exit 1
	fi
	ip netns del "$ns"
	echo $((t1 - t0))
}

echo "# ipvs-apply on $(uname -r), $(nproc) vCPU (TCG), $lines rules, $REPS repetitions"
a=() b=()
for ((i = 0; i < REPS; i++)); do
	if ((i % 2 == 0)); then
		a+=("$(run_one ipvsadm)")
		b+=("$(run_one ipvsd)")
	else
		b+=("$(run_one ipvsd)")
		a+=("$(run_one ipvsadm)")
	fi
	echo "rep $((i + 1)): ipvsadm -R ${a[i]} ms, ipvsd apply ${b[i]} ms"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ma=$(median "${a[@]}")
mb=$(median "${b[@]}")
echo "median: ipvsadm -R $ma ms, ipvsd apply $mb ms, ratio ipvsd/ipvsadm = $(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.2f", b/a}')"

# Re-applying writes nothing; one changed weight is one write.
ns=bench-idem
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" "$BIN" apply --config "$CFG" >/dev/null
echo "re-apply unchanged: $(ip netns exec "$ns" "$BIN" apply --config "$CFG")"
echo "one weight changed: $(ip netns exec "$ns" "$BIN" apply --config "$CHANGED")"
ip netns del "$ns"
