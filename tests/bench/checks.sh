#!/usr/bin/env bash
# Benchmark: health-check cost, ipvsd vs keepalived, side by side on a real kernel.
#
#   tests/bench/checks.sh [REAL_SERVERS]          (default 500)
#
# Builds ipvsd (release) and tests/bench/listener.rs (rustc -O, into target/bench/), and
# writes, for REAL_SERVERS real servers 127.0.1.1.. (250 per /24: 127.0.1.1-127.0.1.250,
# 127.0.2.1-...) on port 80 behind one NAT service 203.0.113.7:80 (rr), the equivalent
# ipvsd and keepalived configs with a 1 s interval and 1 s timeout: TCP checks, then HTTP
# checks (GET /, status 200). In the test VM (real IPVS, keepalived 2.2.7) it runs, one
# after the other, ipvsd (kernel backend) and keepalived (`keepalived -n -l -f FILE`),
# each against one listener on 0.0.0.0:80, for WARMUP s (env, default 10) and then a
# measured WINDOW s (env, default 60), and prints CPU seconds (utime+stime of all the
# program's processes: keepalived forks a checker child), CPU % of one core, RSS (max of
# VmRSS summed over the processes, and the checker process alone), the probes the listener
# served per second and the distinct addresses it saw, the failures each program logged,
# the IPVS destinations at weight 1, and the ratios ipvsd/keepalived against the goals
# (CPU <= 0.5x, RSS <= 2x). CPU is also split per probe into user and system time: the
# system time (socket, loopback handshake, close) is what no checker can avoid.
# A third program, tests/bench/floor.rs, makes the same probes on the same schedule with
# nothing else (blocking sockets, no event loop, no state): its CPU is the floor the
# kernel's work per probe puts under any connect-based checker, printed as keepalived/floor
# and ipvsd/floor.
# REPS (env, default 1) repeats the three runs interleaved (ipvsd, keepalived, floor,
# ipvsd, ...) and reports the median CPU of each: TCG timing drifts between runs.
# The VM emulates its CPU (TCG): absolute figures are slow; the ratios are what count.
# Takes about (WARMUP + WINDOW + 10) x 6 x REPS s plus the build: ~8 min with the defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${1:-500}
WARMUP=${WARMUP:-10}
WINDOW=${WINDOW:-60}
((N >= 1 && N <= 250 * 254)) || { echo "checks.sh: REAL_SERVERS must be 1..63500" >&2; exit 2; }
OUT=target/bench/checks
mkdir -p "$OUT"

cargo build --release --quiet
BIN=target/release/ipvsd
rustc --edition 2021 -O -o target/bench/listener tests/bench/listener.rs
rustc --edition 2021 -O -o target/bench/floor tests/bench/floor.rs

# rs I: the I-th real server's address (0-based).
rs() { echo "127.0.$((1 + $1 / 250)).$((1 + $1 % 250))"; }

for kind in tcp http; do
	if [[ $kind == tcp ]]; then
		check='{type: tcp, interval: 1s, timeout: 1s}'
		kcheck='TCP_CHECK { connect_timeout 1 }'
	else
		check='{type: http, path: /, expect_status: 200, interval: 1s, timeout: 1s}'
		kcheck='HTTP_GET { url { path / status_code 200 } connect_timeout 1 }'
	fi
	{
		echo "global: {node_name: bench}"
		echo "virtual_servers:"
		echo "  - name: web"
		echo "    address: 203.0.113.7:80"
		echo "    scheduler: rr"
		echo "    forwarding: nat"
		echo "    checks: [$check]"
		echo "    real_servers:"
		for ((i = 0; i < N; i++)); do echo "      - {address: $(rs "$i"):80}"; done
	} >"$OUT/ipvsd-$kind.yaml"
	{
		echo "global_defs {"
		echo "  router_id bench"
		echo "}"
		echo "virtual_server 203.0.113.7 80 {"
		echo "  delay_loop 1"
		echo "  lb_algo rr"
		echo "  lb_kind NAT"
		echo "  protocol TCP"
		for ((i = 0; i < N; i++)); do
			echo "  real_server $(rs "$i") 80 {"
			echo "    weight 1"
			echo "    $kcheck"
			echo "  }"
		done
		echo "}"
	} >"$OUT/keepalived-$kind.conf"
	"$BIN" check-config "$OUT/ipvsd-$kind.yaml"
done

# The VM's CPU is emulated on the host's: a busy host slows both programs (not equally if it varies).
echo "# host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
REPS=${REPS:-1}
exec bash tests/vm/run.sh --timeout $((6 * REPS * (WARMUP + WINDOW + 40) + 120)) \
	tests/bench/checks.vm.sh "$BIN" target/bench/listener "$OUT" "$N" "$WARMUP" "$WINDOW" target/bench/floor "$REPS"
