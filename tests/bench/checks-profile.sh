#!/usr/bin/env bash
# Profile: user-space instructions per TCP probe, counted by callgrind (repeatable on a
# loaded machine, unlike CPU time). For issue 4's question of where ipvsd spends more than
# the floor (tests/bench/floor.rs) per probe.
#
#   tests/bench/checks-profile.sh [REAL_SERVERS] [SECONDS]     (default 200 and 40)
#
# ipvsd (release) with --ipvs-backend memory checks REAL_SERVERS servers on 127.1.x.y:PORT
# (env, default 18090) over TCP (or HTTP, `GET /` expecting 200, with CHECK=http) every
# 1 s under `valgrind --tool=callgrind` for SECONDS; tests/bench/listener.rs answers. A second, shorter run with the checks' interval at an
# hour (one probe per server) gives the start-up cost, which is subtracted. Prints the
# instructions per probe, then the functions with the most instructions of their own and
# the per-probe cost of a few inclusive ones. Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${1:-200}
SECS=${2:-40}
CHECK=${CHECK:-tcp}
case $CHECK in
tcp) check='{type: tcp, interval: $1, timeout: 1s}' ;;
http) check='{type: http, path: /, expect_status: 200, interval: $1, timeout: 1s}' ;;
*) echo "checks-profile: CHECK must be tcp or http" >&2; exit 2 ;;
esac
PORT=${PORT:-18090}
OUT=target/bench/profile
rm -rf "$OUT"
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "checks-profile: valgrind is not installed" >&2; exit 2; }
cargo build --release --quiet
rustc --edition 2021 -O -o target/bench/listener tests/bench/listener.rs

config() { # INTERVAL
	echo "global: {node_name: profile, control_socket: none}"
	echo "virtual_servers:"
	echo "  - name: web"
	echo "    address: 203.0.113.7:80"
	echo "    forwarding: nat"
	echo "    checks: [${check//\$1/$1}]"
	echo "    real_servers:"
	for ((i = 0; i < N; i++)); do echo "      - {address: 127.1.$((i / 250)).$((1 + i % 250)):$PORT}"; done
}
config 1s >"$OUT/every-second.yaml"
config 1h >"$OUT/once.yaml"
chmod 644 "$OUT"/*.yaml

target/bench/listener "$CHECK" "$PORT" "$OUT/listener.status" 2 $((2 * SECS + 60)) &
LPID=$!
trap 'kill $LPID 2>/dev/null || true' EXIT
for ((i = 0; i < 50; i++)); do
	[[ -s $OUT/listener.status ]] && break
	sleep 0.1
done
[[ -s $OUT/listener.status ]] || { echo "checks-profile: the listener did not start" >&2; exit 1; }
accepted() { sed -En 's/.* accepted=([0-9]+).*/\1/p' "$OUT/listener.status"; }
run() { # NAME CONFIG SECONDS: callgrind output in $OUT/NAME.out; prints probes made
	local a0 a1
	sleep 1.1
	a0=$(accepted)
	timeout -s INT "$3" valgrind --tool=callgrind --callgrind-out-file="$OUT/$1.out" \
		target/release/ipvsd run -c "$2" --ipvs-backend memory --log-level warn >"$OUT/$1.log" 2>&1 || true
	sleep 1.1
	a1=$(accepted)
	echo $((a1 - a0))
}
total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }

p_once=$(run once "$OUT/once.yaml" 15)
p_all=$(run every-second "$OUT/every-second.yaml" "$SECS")
i_once=$(total "$OUT/once.out")
i_all=$(total "$OUT/every-second.out")
per=$(((i_all - i_once) / (p_all - p_once)))
echo "# checks-profile: $N real servers, $CHECK every 1 s, ${SECS} s under callgrind"
echo "start-up run: $p_once probes, $i_once instructions; full run: $p_all probes, $i_all instructions"
echo "user-space instructions per probe: $per"
echo "most instructions of their own (full run, per probe):"
callgrind_annotate --inclusive=no "$OUT/every-second.out" 2>/dev/null |
	awk -v p="$p_all" '/^ *[0-9,]+ +\(/ && !/PROGRAM TOTALS/ { n = $1; gsub(",", "", n); $1 = $2 = $3 = ""; sub(/^ +/, ""); sub(/^\?\?\?:/, ""); sub(/ \[.*/, ""); printf "  %6d  %s\n", n / p, substr($0, 1, 110); if (++c == 15) exit }' || true
echo "inclusive, per probe:"
for f in 'ipvsd::daemon::director::Director::on_result' 'ipvsd::check::servers::Servers::record' \
	'tokio::runtime::io::registration::Registration::new_with_interest_and_handle' \
	'ipvsd::check::probe::tcp::open::{{closure}}' '<tokio::time::sleep::Sleep as core::future::future::Future>::poll' \
	'tokio::time::interval::Interval::poll_tick' 'malloc.c:posix_memalign'; do
	callgrind_annotate --inclusive=yes "$OUT/every-second.out" 2>/dev/null | grep -F -- "$f" | sed -n 1p |
		awk -v p="$p_all" -v f="$f" '{ n = $1; gsub(",", "", n); printf "  %6d  %s\n", n / p, f }' || true
done
