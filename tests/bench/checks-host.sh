#!/usr/bin/env bash
# Benchmark: ipvsd alone at 10,000 real servers, on the host, in-memory IPVS backend.
#
#   tests/bench/checks-host.sh [REAL_SERVERS]          (default 10000)
#
# Builds ipvsd (release) and tests/bench/listener.rs (rustc -O, into target/bench/). One
# NAT service 203.0.113.7:80 with REAL_SERVERS real servers 127.1.0.1.. (250 per /24:
# 127.1.0.1-127.1.0.250, 127.1.1.1-...) on port PORT (env, default 18080), TCP checks
# every 1 s (timeout 1 s). One listener on 0.0.0.0:PORT accepts and closes. ipvsd runs
# with `--ipvs-backend memory` for DURATION s (env, default 185) and logs its probe
# schedule lateness once a minute. Prints: RSS (max of VmRSS sampled every second, and
# VmHWM), CPU over the window after WARMUP s (env, default 20), every `check schedule`
# line (p50/p99/max start lateness), the real servers reported down, and the listener's
# accepts/s, errors, accept-queue drops and distinct addresses (so a failure is not the
# listener's fault). Goals: RSS < 64 MB, probes on schedule (p99 lateness < 100 ms, every
# probe made: REAL_SERVERS x 60 per minute), no server down.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${1:-10000}
PORT=${PORT:-18080}
DURATION=${DURATION:-185}
WARMUP=${WARMUP:-20}
((N >= 1 && N <= 250 * 256)) || { echo "checks-host.sh: REAL_SERVERS must be 1..64000" >&2; exit 2; }
((DURATION > WARMUP)) || { echo "checks-host.sh: DURATION must exceed WARMUP" >&2; exit 2; }
OUT=target/bench/checks-host
mkdir -p "$OUT"
HZ=100 # USER_HZ, the unit of utime/stime

cargo build --release --quiet
BIN=target/release/ipvsd
rustc --edition 2021 -O -o target/bench/listener tests/bench/listener.rs

CFG=$OUT/ipvsd.yaml
{
	echo "global: {node_name: bench, control_socket: none}"
	echo "virtual_servers:"
	echo "  - name: web"
	echo "    address: 203.0.113.7:80"
	echo "    scheduler: rr"
	echo "    forwarding: nat"
	echo "    checks: [{type: tcp, interval: 1s, timeout: 1s}]"
	echo "    real_servers:"
	for ((i = 0; i < N; i++)); do echo "      - {address: 127.1.$((i / 250)).$((1 + i % 250)):$PORT}"; done
} >"$CFG"
"$BIN" check-config "$CFG"

# Each probe holds a socket for well under a second, but leave room.
ulimit -n "$(ulimit -Hn)"

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

cpu_ticks() { # PID: utime+stime of all its threads
	local st f
	read -r st 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
	read -r -a f <<<"${st##*) }"
	echo $((f[11] + f[12]))
}
status_kb() { # FIELD PID
	local k v
	while read -r k v _; do
		[[ $k == "$1:" ]] && { echo "$v"; return; }
	done 2>/dev/null <"/proc/$2/status"
	echo 0
}
listen_drops() {
	awk '/^TcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) n[$i] = i; h = 1 } else print $n["ListenOverflows"] + $n["ListenDrops"] }' /proc/net/netstat
}
lstat() { # FIELD of the listener's status line
	local line=''
	read -r line 2>/dev/null <"$OUT/listener.status" || true
	[[ " $line" =~ \ $1=([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
pct() { awk -v t="$1" -v h=$HZ -v w="$2" 'BEGIN { printf "%.2f s, %.1f %% of a core", t / h, 100 * t / h / w }'; }

echo "# checks-host on $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg): $N real servers, tcp checks, interval 1s, timeout 1s; ${DURATION}s run, CPU window after ${WARMUP}s"
rm -f "$OUT/listener.status"
target/bench/listener tcp "$PORT" "$OUT/listener.status" 4 $((DURATION + 60)) &
LPID=$!
PIDS+=("$LPID")
for ((i = 0; i < 50; i++)); do
	[[ -s $OUT/listener.status ]] && break
	sleep 0.1
done
LOG=$OUT/ipvsd.log
"$BIN" run --config "$CFG" --ipvs-backend memory --log-level "warn,ipvsd::daemon::director=debug" >"$LOG" 2>&1 &
PID=$!
PIDS+=("$PID")
T0=$SECONDS
rss_max=0 rss_at_warmup=0 c0=0 l0=0 a0=0 e0=0 d0=0
while ((SECONDS - T0 < DURATION)); do
	sleep 1
	kill -0 "$PID" 2>/dev/null || { echo "checks-host: ipvsd exited:"; cat "$LOG"; exit 1; }
	rss=$(status_kb VmRSS "$PID")
	((rss > rss_max)) && rss_max=$rss
	if ((c0 == 0 && SECONDS - T0 >= WARMUP)); then
		TW=$SECONDS c0=$(cpu_ticks "$PID") l0=$(cpu_ticks "$LPID") a0=$(lstat accepted) e0=$(lstat errors) d0=$(listen_drops)
		rss_at_warmup=$rss
	fi
done
W=$((SECONDS - TW))
c1=$(cpu_ticks "$PID") l1=$(cpu_ticks "$LPID") a1=$(lstat accepted) e1=$(lstat errors) d1=$(listen_drops)
hwm=$(status_kb VmHWM "$PID")
rss_end=$(status_kb VmRSS "$PID")
threads=$(status_kb Threads "$PID")
kill -TERM "$PID"
wait "$PID" 2>/dev/null || true
kill -TERM "$LPID" 2>/dev/null || true
wait "$LPID" 2>/dev/null || true
PIDS=()

echo "ipvsd RSS: max ${rss_max} kB = $(mb "$rss_max") MB (VmRSS sampled every 1 s; VmHWM $(mb "$hwm") MB; $(mb "$rss_at_warmup") MB at ${WARMUP}s, $(mb "$rss_end") MB at the end; $threads threads)  goal < 64 MB: $( ((hwm < 64 * 1024)) && echo met || echo NOT met)"
echo "ipvsd CPU over ${W}s: $(pct $((c1 - c0)) "$W")  ($(awk -v t=$((c1 - c0)) -v h=$HZ -v n="$N" -v w="$W" 'BEGIN { printf "%.1f", 1e6 * t / h / (n * w) }') us per probe)"
echo "ipvsd check schedule (one line a minute; the first includes the start-up):"
grep -o 'lateness=.*' "$LOG" | sed 's/^/  /' || echo "  (none logged)"
down=$(grep -c 'real server down' "$LOG" || true)
echo "real servers reported down: $down"
((down == 0)) || grep -m 5 'real server down' "$LOG" | sed 's/^/  /'
other=$(grep -v 'check schedule' "$LOG" | grep -vc 'real server down' || true)
((other == 0)) || { echo "other log lines: $other"; grep -v -m 5 -e 'check schedule' -e 'real server down' "$LOG" | sed 's/^/  /'; }
echo "listener over ${W}s: $(((a1 - a0) / W)) accepts/s (expected $N), errors $((e1 - e0)), accept-queue drops (ListenOverflows+ListenDrops) $((d1 - d0)), $(lstat dests) distinct addresses, CPU $(pct $((l1 - l0)) "$W")"
# On schedule: every minute line counts N x 60 probes (±1%) and its p99 bound is < 100 ms.
verdict=$(grep -o 'lateness=.*' "$LOG" | tail -n +2 |
	sed -E 's/^lateness=([0-9]+) probes, p50 [^,]*, p99 <([0-9]+)ms.*/\1 \2/' |
	awk -v n="$N" '{ if ($1 < n * 60 * 0.99 || $2 > 100) bad++; c++ }
		END { if (!c) print "no full minute logged"; else if (bad) print "NOT met (" bad " of " c " minutes)"; else print "met (" c " full minutes)" }')
echo "probes on schedule (after the first minute: N x 60 probes a minute, p99 < 100 ms): $verdict"
