#!/usr/bin/env bash
# Soak: ipvsd with REAL_SERVERS real servers flapping at random and a reload every minute,
# for MINUTES, on the host with the in-memory IPVS backend.
#
#   tests/bench/soak.sh [MINUTES] [REAL_SERVERS]        (default 30 and 1000)
#
# Real servers 127.1.x.y:PORT (PORT env, default 18081) are served by tests/bench/listener.rs
# in http mode; ipvsd checks them over HTTP every 1 s (timeout 1 s, rise 3, fall 3).
# - Slow flaps: every 5 s, 20 random servers change state (the listener answers 503 for
#   the addresses in its down file): these go down and up as rise/fall allow.
# - Fast flaps: 10 servers answer 503 in even seconds and 200 in odd ones; fall 3 never
#   lets that through, so they must never go down.
# - Every minute a reload (SIGHUP) alternately adds and removes a second virtual service
#   with 20 real servers, and changes the weight of 50 servers of the first.
# Sampled every second: RSS; every minute: RSS, open fds, threads. At the end the flapping
# stops, the fast flappers come up, and after rise x interval + timeout + 2 s the health
# of every real server in the status document and the weights in the (memory) kernel
# table must be exactly what the final down set says.
#
# Prints the figures and a verdict per goal; exits 1 if a goal is not met:
#   RSS and fds flat: over the second half of the run (state that is created lazily,
#   such as a server's transition counters at its first transition, has appeared by
#   then; a leak per reload or per transition would still grow) RSS grows < 5 % and fds
#   by < 16; the growth from minute 2 is printed too;
#   checks on schedule: every full minute has >= 99 % of the probes due and p99 < 100 ms;
#   no fast flapper ever down; every reload applied; the final table correct.
set -euo pipefail
cd "$(dirname "$0")/../.."

MINUTES=${1:-30}
N=${2:-1000}
PORT=${PORT:-18081}
ADMIN=${ADMIN:-127.0.0.1:19181}
((MINUTES >= 3)) || { echo "soak.sh: MINUTES must be at least 3" >&2; exit 2; }
((N >= 100 && N <= 250 * 200)) || { echo "soak.sh: REAL_SERVERS must be 100..50000" >&2; exit 2; }
OUT=target/bench/soak
rm -rf "$OUT"
mkdir -p "$OUT"

cargo build --release --quiet
BIN=target/release/ipvsd
rustc --edition 2021 -O -o target/bench/listener tests/bench/listener.rs

addr() { echo "127.1.$(($1 / 250)).$((1 + $1 % 250))"; }
FAST=()
for ((i = N - 10; i < N; i++)); do FAST+=("$(addr "$i")"); done
printf '%s\n' "${FAST[@]}" >"$OUT/fast"
: >"$OUT/down"

CFG=$OUT/ipvsd.yaml
config() { # VARIANT (0 or 1): 1 adds the second service and doubles 50 weights
	local v=$1 i w
	{
		echo "global: {node_name: soak, admin_listen: \"$ADMIN\", removal_grace: 0s, control_socket: none}"
		echo "virtual_servers:"
		echo "  - name: web"
		echo "    address: 203.0.113.7:80"
		echo "    scheduler: wrr"
		echo "    forwarding: nat"
		echo "    checks: [{type: http, path: /, interval: 1s, timeout: 1s, rise: 3, fall: 3}]"
		echo "    real_servers:"
		for ((i = 0; i < N; i++)); do
			w=1
			((v == 1 && i < 50)) && w=2
			echo "      - {address: \"$(addr "$i"):$PORT\", weight: $w}"
		done
		if ((v == 1)); then
			echo "  - name: extra"
			echo "    address: 203.0.113.8:80"
			echo "    forwarding: nat"
			echo "    checks: [{type: http, path: /, interval: 1s, timeout: 1s, rise: 3, fall: 3}]"
			echo "    real_servers:"
			for ((i = 1; i <= 20; i++)); do echo "      - {address: \"127.2.0.$i:$PORT\"}"; done
		fi
	} >"$CFG.tmp"
	chmod 644 "$CFG.tmp"
	mv "$CFG.tmp" "$CFG"
}
config 0
"$BIN" check-config "$CFG"
ulimit -n "$(ulimit -Hn)"

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

status_kb() { # FIELD PID
	local k v
	while read -r k v _; do
		[[ $k == "$1:" ]] && { echo "$v"; return; }
	done 2>/dev/null <"/proc/$2/status"
	echo 0
}
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "# soak on $(uname -r), $(nproc) CPUs: $N real servers (http checks every 1s, rise 3, fall 3), ${MINUTES} min, a reload every minute"
LISTENER_DOWN_FILE=$OUT/down LISTENER_FAST_FILE=$OUT/fast \
	target/bench/listener http "$PORT" "$OUT/listener.status" 4 $((MINUTES * 60 + 120)) &
PIDS+=($!)
sleep 1
LOG=$OUT/ipvsd.log
"$BIN" run --config "$CFG" --ipvs-backend memory --log-level "info,ipvsd::daemon::director=debug" >"$LOG" 2>&1 &
PID=$!
PIDS+=("$PID")

# Slow flaps: a background loop toggling 20 random servers (not the fast ones) every 5 s.
flapper() {
	local -A down=()
	local i a
	while :; do
		sleep 5
		for i in $(shuf -i 0-$((N - 11)) -n 20); do
			a=$(addr "$i")
			if [[ -n ${down[$a]:-} ]]; then unset "down[$a]"; else down[$a]=1; fi
		done
		printf '%s\n' "${!down[@]}" >"$OUT/down.tmp"
		mv "$OUT/down.tmp" "$OUT/down"
	done
}
flapper &
FLAPPER=$!
PIDS+=("$FLAPPER")

T0=$SECONDS
rss_max=0 variant=0 reloads=0
echo "minute  RSS_MB  fds  threads  reloads"
for ((m = 1; m <= MINUTES; m++)); do
	while ((SECONDS - T0 < m * 60)); do
		sleep 1
		kill -0 "$PID" 2>/dev/null || { echo "soak: ipvsd exited"; tail -20 "$LOG"; exit 1; }
		rss=$(status_kb VmRSS "$PID")
		((rss > rss_max)) && rss_max=$rss
	done
	rss=$(status_kb VmRSS "$PID")
	f=$(fds "$PID")
	th=$(status_kb Threads "$PID")
	printf '%6d  %6s  %3d  %7d  %7d\n' "$m" "$(mb "$rss")" "$f" "$th" "$reloads"
	echo "$m $rss $f $th" >>"$OUT/samples"
	if ((m < MINUTES)); then
		variant=$((1 - variant))
		config "$variant"
		kill -HUP "$PID"
		reloads=$((reloads + 1))
	fi
done

# The end: freeze the flaps, fast flappers up; the final down set is the down file.
kill "$FLAPPER" 2>/dev/null || true
wait "$FLAPPER" 2>/dev/null || true
: >"$OUT/fast"
sleep 8
curl -fsS "http://$ADMIN/api/v1/status" >"$OUT/status.json"
curl -fsS "http://$ADMIN/metrics" >"$OUT/metrics.txt"
kill -TERM "$PID"
wait "$PID" 2>/dev/null || true

final=$(python3 - "$OUT/status.json" "$OUT/down" "$PORT" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
down = {l.strip() + ":" + sys.argv[3] for l in open(sys.argv[2]) if l.strip()}
bad = []
n = 0
for vs in doc["virtual_servers"]:
    for rs in vs["real_servers"]:
        n += 1
        want = "down" if rs["address"] in down else "up"
        w = 0 if want == "down" else rs["weight"]
        if rs["health"] != want or rs["desired_weight"] != w or rs["kernel_weight"] != w:
            bad.append(f'{rs["address"]}: health {rs["health"]} (want {want}), desired {rs["desired_weight"]}, kernel {rs["kernel_weight"]} (want {w})')
print(f"{n} real servers, {len(down)} down at the end, {len(bad)} wrong" + "".join("\n  " + b for b in bad[:10]))
PY
)
echo "final state: $final"

read -r _ rss2 f2 _ < <(sed -n 2p "$OUT/samples")
read -r mH rssH fH _ < <(sed -n "$(((MINUTES + 1) / 2))p" "$OUT/samples")
read -r _ rssN fN thN < <(tail -n 1 "$OUT/samples")
growth2=$(awk -v a="$rss2" -v b="$rssN" 'BEGIN { printf "%.1f", 100 * (b - a) / a }')
growth=$(awk -v a="$rssH" -v b="$rssN" 'BEGIN { printf "%.1f", 100 * (b - a) / a }')
downs=$(grep -c 'real server down' "$LOG" || true)
ups=$(grep -c 'real server up' "$LOG" || true)
fast_down=0
for a in "${FAST[@]}"; do
	c=$(grep 'real server down' "$LOG" | grep -c "rs=$a:" || true)
	fast_down=$((fast_down + c))
done
applied=$(grep -c 'reload applied' "$LOG" || true)
rejected=$(grep -c 'reload rejected' "$LOG" || true)
echo "RSS: minute 2 $(mb "$rss2") MB, minute $mH $(mb "$rssH") MB, end $(mb "$rssN") MB; growth from minute 2 $growth2 %, over the second half $growth %; max $(mb "$rss_max") MB"
echo "open fds: minute 2 $f2, minute $mH $fH, end $fN; threads at the end $thN"
echo "transitions: $downs down, $ups up; fast flappers down: $fast_down"
echo "reloads: $reloads sent, $applied applied, $rejected rejected"
echo "check schedule (one line a minute; the first includes the start-up):"
grep -o 'lateness=.*' "$LOG" | sed 's/^/  /' || echo "  (none logged)"
sched=$(grep -o 'lateness=.*' "$LOG" | tail -n +2 |
	sed -E 's/^lateness=([0-9]+) probes, p50 [^,]*, p99 <([0-9]+)ms.*/\1 \2/' |
	awk -v n="$N" '{ if ($1 < n * 60 * 0.99 || $2 > 100) bad++; c++ }
		END { if (!c) print "no full minute logged"; else if (bad) print "NOT met (" bad " of " c " minutes)"; else print "met (" c " full minutes)" }')

fail=0
verdict() { # GOAL OK?
	if [[ $2 == 1 ]]; then echo "ok: $1"; else echo "NOT met: $1"; fail=1; fi
}
verdict "RSS flat (second half: $growth % < 5 %)" "$(awk -v g="$growth" 'BEGIN { print (g < 5) }')"
verdict "fds flat (second half: $((fN - fH)) < 16)" "$(((fN - fH) < 16))"
verdict "checks on schedule: $sched" "$([[ $sched == met* ]] && echo 1 || echo 0)"
verdict "no fast flapper down ($fast_down)" "$((fast_down == 0))"
verdict "transitions happened ($downs down)" "$((downs > 0))"
verdict "every reload applied ($applied of $reloads)" "$((applied == reloads && rejected == 0))"
verdict "final state correct ($final)" "$([[ $final == *", 0 wrong"* ]] && echo 1 || echo 0)"
exit "$fail"
