#!/usr/bin/env bash
# The in-VM half of tests/bench/checks.sh (see there).
# Args: BIN LISTENER DIR N WARMUP WINDOW FLOOR REPS. DIR holds ipvsd-{tcp,http}.yaml and
# keepalived-{tcp,http}.conf; the logs of each run are copied there (checks-*.log).
set -euo pipefail
BIN=$1 LISTENER=$2 DIR=$3 N=$4 WARMUP=$5 WINDOW=$6 FLOOR=$7 REPS=${8:-1}
PROGS=(ipvsd keepalived floor)
WORK=/tmp/bench-checks
mkdir -p "$WORK"
ulimit -n 65536
# USER_HZ: the unit of utime/stime in /proc/PID/stat.
HZ=100

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# children PID: the PIDs whose parent is PID.
children() {
	local d st f
	for d in /proc/[0-9]*; do
		read -r st 2>/dev/null <"$d/stat" || continue
		read -r -a f <<<"${st##*) }"
		# f[0] is field 3 (state), f[1] the parent
		[[ ${f[1]} == "$1" ]] && echo "${d#/proc/}"
	done
	return 0
}

# cpu_ticks PID...: "utime stime", each summed (threads included; exited processes count 0).
cpu_ticks() {
	local p st f u=0 s=0
	for p in "$@"; do
		read -r st 2>/dev/null <"/proc/$p/stat" || continue
		read -r -a f <<<"${st##*) }"
		# f[0] is field 3 (state): utime = field 14 = f[11], stime = field 15 = f[12]
		u=$((u + f[11])) s=$((s + f[12]))
	done
	echo "$u $s"
}

# status_kb FIELD PID...: FIELD (VmRSS, VmHWM) in kB summed over the PIDs.
status_kb() {
	local field=$1 p k v t=0
	shift
	for p in "$@"; do
		while read -r k v _; do
			[[ $k == "$field:" ]] && t=$((t + v))
		done 2>/dev/null <"/proc/$p/status" || true
	done
	echo "$t"
}

# ctx_switches PID...: voluntary + involuntary context switches of all their threads.
ctx_switches() {
	local p t k v n=0
	for p in "$@"; do
		for t in /proc/"$p"/task/*; do
			while read -r k v; do
				[[ $k == voluntary_ctxt_switches: || $k == nonvoluntary_ctxt_switches: ]] && n=$((n + v))
			done 2>/dev/null <"$t/status" || true
		done
	done
	echo "$n"
}

# listen_drops: TcpExt ListenOverflows + ListenDrops of this namespace.
listen_drops() {
	awk '/^TcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) n[$i] = i; h = 1 } else print $n["ListenOverflows"] + $n["ListenDrops"] }' /proc/net/netstat
}

lstat() { # FIELD: a field of the listener's status line
	local line=''
	read -r line 2>/dev/null <"$WORK/listener.status" || true
	[[ " $line" =~ \ $1=([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0
}

wait_gone() { # PID SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
}

# run_one KIND PROG: one measured run; sets R_* result variables.
run_one() {
	local kind=$1 prog=$2
	local log="$WORK/$prog-$kind.log" lpid ppid cpid pids u0 u1 s0 s1 x0 x1 a0 a1 v0 v1 e0 e1 d0 d1
	local t_end rss rss_max=0 crss crss_max=0 i
	ipvsadm -C
	rm -f "$WORK/listener.status"
	"$LISTENER" "$kind" 80 "$WORK/listener.status" 8 $((WARMUP + WINDOW + 60)) &
	lpid=$!
	PIDS+=("$lpid")
	for ((i = 0; i < 50; i++)); do
		ss -Hltn 'sport = :80' | grep . >/dev/null && break
		sleep 0.1
	done
	case $prog in
	ipvsd)
		"$BIN" run --config "$DIR/ipvsd-$kind.yaml" --log-level "warn,ipvsd::daemon::director=debug" >"$log" 2>&1 &
		ppid=$!
		;;
	keepalived)
		keepalived -n -l -G -f "$DIR/keepalived-$kind.conf" -p "$WORK/ka.pid" -c "$WORK/ka-checker.pid" >"$log" 2>&1 &
		ppid=$!
		;;
	floor)
		"$FLOOR" "$kind" "$N" $((WARMUP + WINDOW + 30)) >"$log" 2>&1 &
		ppid=$!
		;;
	esac
	PIDS+=("$ppid")
	sleep "$WARMUP"
	kill -0 "$ppid" 2>/dev/null || { echo "bench: $prog exited during the warm-up:"; cat "$log"; exit 1; }
	# The program's processes: the daemon and its children (keepalived's checker).
	mapfile -t pids < <(echo "$ppid"; children "$ppid")
	cpid=$ppid
	[[ $prog == keepalived ]] && cpid=$(cat "$WORK/ka-checker.pid")
	read -r u0 s0 < <(cpu_ticks "${pids[@]}")
	x0=$(ctx_switches "${pids[@]}")
	a0=$(lstat accepted) v0=$(lstat served) e0=$(lstat errors) d0=$(listen_drops)
	t_end=$((SECONDS + WINDOW))
	while ((SECONDS < t_end)); do
		sleep 1
		rss=$(status_kb VmRSS "${pids[@]}")
		crss=$(status_kb VmRSS "$cpid")
		((rss > rss_max)) && rss_max=$rss
		((crss > crss_max)) && crss_max=$crss
	done
	read -r u1 s1 < <(cpu_ticks "${pids[@]}")
	x1=$(ctx_switches "${pids[@]}")
	a1=$(lstat accepted) v1=$(lstat served) e1=$(lstat errors) d1=$(listen_drops)
	R_PROCS=${#pids[@]}
	R_USR=$((u1 - u0)) R_SYS=$((s1 - s0)) R_CTX=$((x1 - x0)) R_PROBES=$((v1 - v0))
	R_CPU=$((R_USR + R_SYS))
	R_THREADS=0
	for i in "${pids[@]}"; do R_THREADS=$((R_THREADS + $(status_kb Threads "$i"))); done
	R_RSS=$rss_max R_CRSS=$crss_max
	R_HWM=$(status_kb VmHWM "${pids[@]}")
	R_ACC=$(((a1 - a0) / WINDOW)) R_SRV=$(((v1 - v0) / WINDOW)) R_ERR=$((e1 - e0)) R_DROPS=$((d1 - d0))
	R_DESTS=$(lstat dests)
	R_IPVS=$(ipvsadm -S -n | grep -c -- '-r 127\.0\.' || true)
	R_IPVS1=$(ipvsadm -S -n | grep -c -- '-r 127\.0\..* -w 1$' || true)
	kill -TERM "$ppid"
	wait_gone "$ppid" 15
	wait "$ppid" 2>/dev/null || true
	kill -TERM "$lpid" 2>/dev/null || true
	wait "$lpid" 2>/dev/null || true
	PIDS=()
	case $prog in
	ipvsd)
		R_FAIL=$(grep -c 'real server down' "$log" || true)
		R_LATE=$(grep -o 'lateness=[^"]*probes.*ms' "$log" | tail -n 1 || true)
		;;
	keepalived)
		R_FAIL=$(grep -ciE 'fail|timeout|Removing service|error' "$log" || true)
		R_LATE=''
		;;
	floor)
		# It keeps no table: the listener's errors are its failures.
		R_FAIL=$R_ERR R_LATE=''
		;;
	esac
	cp "$log" "$DIR/checks-$prog-$kind.log"
}

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "# checks on $(uname -r), $(nproc) vCPU (TCG): $N real servers, interval 1s, timeout 1s; warm-up ${WARMUP}s, window ${WINDOW}s; $REPS interleaved repetition(s)"
echo "# $(keepalived --version 2>&1 | head -n 1); ipvsd $("$BIN" --version 2>/dev/null | awk '{print $NF}')"
echo "# verification (listener: probes it served per second over the window, errors, accept-queue drops, distinct addresses probed; failures the program logged; IPVS destinations at the end of the window)"
ROWS=()
for kind in tcp http; do
	for ((rep = 1; rep <= REPS; rep++)); do
	for prog in "${PROGS[@]}"; do
		run_one "$kind" "$prog"
		printf '%-4s %-10s served %d/s (accepted %d/s, errors %d, listen drops %d, %d addresses), failures logged %d, ipvs dests %d (weight 1: %d), %d processes, %d threads, peak RSS (VmHWM) %s MB\n' \
			"$kind" "$prog" "$R_SRV" "$R_ACC" "$R_ERR" "$R_DROPS" "$R_DESTS" "$R_FAIL" "$R_IPVS" "$R_IPVS1" "$R_PROCS" "$R_THREADS" "$(mb "$R_HWM")"
		[[ -z $R_LATE ]] || echo "     ipvsd check schedule: $R_LATE (its first 60 s, warm-up included)"
		ROWS+=("$kind $prog $R_CPU $R_RSS $R_CRSS $R_PROBES $R_CTX $R_USR $R_SYS")
	done
	done
done

echo
echo "# results over the ${WINDOW}s window, median of $REPS run(s) each (CPU = utime+stime of all the program's processes; RSS = max VmRSS summed over them, sampled every 1 s; checker = keepalived's checker child alone; floor = tests/bench/floor.rs)"
printf '%s\n' "${ROWS[@]}" | awk -v hz=$HZ -v w="$WINDOW" '
	function median(key,    n, i, j, t, v) {
		n = cnt[key]
		for (i = 1; i <= n; i++) v[i] = vals[key, i]
		for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	function add(key, x) { vals[key, ++cnt[key]] = x }
	{ k = $1; p = $2
	  add(k SUBSEP p SUBSEP "cpu", $3 / hz); add(k SUBSEP p SUBSEP "rss", $4 / 1024); add(k SUBSEP p SUBSEP "crss", $5 / 1024)
	  add(k SUBSEP p SUBSEP "pr", $6); add(k SUBSEP p SUBSEP "ctx", $7)
	  add(k SUBSEP p SUBSEP "usr", $6 ? 1e6 * $8 / hz / $6 : 0); add(k SUBSEP p SUBSEP "sys", $6 ? 1e6 * $9 / hz / $6 : 0)
	  if (!(k in seen)) { seen[k] = 1; kinds[++nk] = k } }
	END {
		printf "%-5s %-11s %8s %7s %8s %11s %9s %12s %12s %12s %11s\n", "check", "program", "CPU s", "CPU %", "RSS MB", "checker MB", "probes/s", "CPU ms/probe", "user us/pr", "system us/pr", "ctxsw/probe"
		split("ipvsd keepalived floor", ps, " ")
		for (i = 1; i <= nk; i++) {
			k = kinds[i]
			for (j = 1; j <= 3; j++) {
				p = ps[j]
				cpu[p] = median(k SUBSEP p SUBSEP "cpu"); rss[p] = median(k SUBSEP p SUBSEP "rss"); crss[p] = median(k SUBSEP p SUBSEP "crss")
				pr[p] = median(k SUBSEP p SUBSEP "pr"); ctx[p] = median(k SUBSEP p SUBSEP "ctx")
				usr[p] = median(k SUBSEP p SUBSEP "usr"); sys[p] = median(k SUBSEP p SUBSEP "sys")
				printf "%-5s %-11s %8.2f %7.1f %8.1f %11.1f %9.0f %12.3f %12.0f %12.0f %11.2f\n", k, p, cpu[p], 100 * cpu[p] / w, rss[p], crss[p],
					pr[p] / w, pr[p] ? 1000 * cpu[p] / pr[p] : 0, usr[p], sys[p], pr[p] ? ctx[p] / pr[p] : 0
			}
			ci = cpu["ipvsd"]; ck = cpu["keepalived"]; cf = cpu["floor"]
			cr = ck ? ci / ck : 0
			cpp = (pr["ipvsd"] && pr["keepalived"] && ck) ? (ci / pr["ipvsd"]) / (ck / pr["keepalived"]) : 0
			rr = rss["ipvsd"] / rss["keepalived"]; rc = rss["ipvsd"] / crss["keepalived"]
			printf "%-5s ipvsd/keepalived: CPU %.2fx (%.2fx per probe) -- goal <= 0.5x: %s; RSS %.2fx (%.2fx of the checker alone) -- goal <= 2x: %s\n",
				k, cr, cpp, (cr <= 0.5 ? "met" : "NOT met"), rr, rc, (rr <= 2 ? "met" : "NOT met")
			printf "%-5s against the floor: keepalived %.2fx, ipvsd %.2fx (0.5x keepalived would be %.2fx the floor)\n",
				k, cf ? ck / cf : 0, cf ? ci / cf : 0, cf ? 0.5 * ck / cf : 0
			# The kernel share: system time per probe (socket, loopback handshake, close).
			kp = usr["keepalived"] + sys["keepalived"]
			printf "%-5s per probe: ipvsd user %.0f us + system %.0f us; keepalived user %.0f us + system %.0f us; ipvsd system time alone is %.2fx keepalived user + system\n",
				k, usr["ipvsd"], sys["ipvsd"], usr["keepalived"], sys["keepalived"], kp ? sys["ipvsd"] / kp : 0
		}
	}'
