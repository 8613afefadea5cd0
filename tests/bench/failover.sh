#!/usr/bin/env bash
# VRRP failover time, ipvsd vs keepalived (Debian's), on the host in network namespaces.
#
#   sudo tests/bench/failover.sh [REPS]      (default 5)
#
# Topology of tests/netns/lib.sh: directors a (priority 150) and b (priority 100) on one
# bridge, VRRPv3, vrid 51, VIP 192.0.2.50/24, both directors run by the same program.
# For each program and each advert interval (1 s, 100 ms), REPS times:
#   crash:    SIGKILL of the master a (keepalived: parent stopped, VRRP child and parent
#             killed), just after b received one of its adverts (tcpdump in b's namespace,
#             so every rep starts at the same phase: a full master-down interval);
#   graceful: SIGTERM of the master a (the priority-0 advert), at the same phase;
# the time from the signal until the VIP is on b, taken from `ip -ts monitor address` in
# b's namespace. After each event a is restarted (its stale VIP removed after a crash, as
# a dead machine's would be) and preempts back.
#
# RFC 5798 section 6.1 bounds (b's priority 100): crash 3 x advert + skew
# (3609 ms / 360 ms), graceful skew (609 ms / 60 ms), skew = (256 - 100) x advert / 256.
#
# Environment: IPVSD=PATH (default: cargo build --release), KEEP=1 keeps the logs,
# BENCH_IMPLS="ipvsd keepalived", BENCH_ADVERTS="1000 100" (ms) to run a subset,
# BENCH_TOLERANCE_MS=10 (allowance over the RFC bound for installing the address).
# Exit status 1 if any measurement failed (reported on stderr with the logs' tails).
set -uo pipefail

REPS=${1:-5}
case $REPS in '' | *[!0-9]*) echo "usage: $0 [REPS]" >&2; exit 2 ;; esac
[ "$REPS" -ge 1 ] && [ "$REPS" -le 100 ] || { echo "REPS must be 1-100" >&2; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$HERE/../netns/lib.sh"

NS_PREFIX=ivb-$$
WORK=$(mktemp -d /tmp/ivb-failover.XXXXXX)
MON_PID= CAP_PID= MONA_PID=
finish() {
  [ -n "$MONA_PID" ] && kill "$MONA_PID" 2>/dev/null
  [ -n "$MON_PID" ] && kill "$MON_PID" 2>/dev/null
  [ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null
  lab_cleanup
  if [ "${KEEP:-0}" = 1 ]; then echo "# kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

lab_require_root failover
lab_install || { echo "failover: cannot install the prerequisites" >&2; exit 1; }
lab_ipvsd_binary || { echo "failover: cannot build ipvsd" >&2; exit 1; }
lab_up || { echo "failover: cannot build the namespaces" >&2; exit 1; }

TOL=${BENCH_TOLERANCE_MS:-10}
ERRORS=0
err() {
  ERRORS=$((ERRORS + 1))
  echo "# error: $*" >&2
  local r
  for r in a b; do
    [ -n "${DLOG[$r]:-}" ] && [ -f "${DLOG[$r]}" ] || continue
    echo "# --- tail of $r (${DIMPL[$r]}) ${DLOG[$r]##*/}" >&2
    tail -n 8 "${DLOG[$r]}" | sed 's/^/#   /' >&2
  done
}

# Monitor file lines -> epoch microseconds of the first VIP addition after line $1.
vip_added_after() {
  local skip=$1 line ts
  line=$(awk -v n="$skip" -v v=" $VIP4/" 'NR > n && !/Deleted/ && index($0, v) { print; exit }' "$MON")
  [ -n "$line" ] || return 1
  ts=${line#[}
  ts=${ts%%]*}
  date -d "${ts/T/ } UTC" +%s%6N
}

a_master() { vip_on a "$VIP4" && vip_off b "$VIP4"; }

# event IMPL ADV SIG: one measurement; prints the milliseconds, or nothing on failure.
event() {
  local impl=$1 adv=$2 sig=$3 before line t_add
  # The master a, and b its backup that has heard it for a while.
  sleep "$(awk -v a="$adv" 'BEGIN{printf "%.3f", (a < 500 ? 500 : 1.5 * a) / 1000}')"
  if ! a_master; then
    err "$impl ${adv}ms: a is not the only master before SIG$sig;" \
      "a: $(ip -n "$NS_A" -o addr show dev eth0 | grep -c " $VIP4/") VIP, b: $(ip -n "$NS_B" -o addr show dev eth0 | grep -c " $VIP4/") VIP"
    return 1
  fi
  before=$(wc -l <"$MON")
  # Signal a just after b received one of its adverts.
  coproc TD { ip netns exec "$NS_B" timeout 5 tcpdump -l -n --immediate-mode -i eth0 -c 1 \
    "ip proto 112 and src host $IP4_A" 2>/dev/null; }
  if ! read -r -t 5 line <&"${TD[0]}"; then
    wait "$TD_PID" 2>/dev/null
    err "$impl ${adv}ms: no advert from a seen in b's namespace"
    return 1
  fi
  now_us
  local t0=$NOW_US
  director_signal a "$sig"
  wait "$TD_PID" 2>/dev/null
  local limit=$(($(mdi_ms 100 "$adv") + 3000))
  if ! poll_until "$t0" "$limit" vip_on b "$VIP4"; then
    err "$impl ${adv}ms SIG$sig: b has no VIP ${ELAPSED_MS} ms after the signal"
    return 1
  fi
  # The monitor line can trail the address by a few ms: wait for it (bounded).
  local i
  for ((i = 0; i < 100; i++)); do
    t_add=$(vip_added_after "$before") && break
    sleep 0.01
  done
  if [ -z "$t_add" ]; then
    err "$impl ${adv}ms SIG$sig: the monitor missed the VIP on b"
    return 1
  fi
  RESULT_MS=$(awk -v a="$t_add" -v b="$t0" 'BEGIN{printf "%.1f", (a - b) / 1000}')
  # On the wire (client capture): crash: a's last advert before the signal -> VIP on b
  # (RFC: the master-down interval); graceful: signal -> a's priority-0 advert, and that
  # advert -> VIP on b (RFC: the skew time).
  WIRE=$(awk -v t0="$t0" -v ta="$t_add" -v src="$IP4_A" -v sig="$sig" '
    { ts = $1 * 1000000 }
    $3 == src && ts <= t0 { last = ts }
    sig == "TERM" && $3 == src && ts > t0 && / prio 0,/ && !p0 { p0 = ts }
    END {
      if (sig == "KILL") { if (last) printf "%.1f", (ta - last) / 1000; else printf "-" }
      else if (p0) printf "%.1f+%.1f", (p0 - t0) / 1000, (ta - p0) / 1000
      else printf "-" }' "$CAP")
  director_reap a || err "$impl ${adv}ms SIG$sig: a did not exit"
  vip_scrub a
  # a comes back and preempts.
  gen_config "$impl" a 150 "$adv"
  director_start a "$impl" "$CONF"
  now_us
  if ! poll_until "$NOW_US" $(($(mdi_ms 150 "$adv") + 3000)) a_master; then
    err "$impl ${adv}ms: the restarted a did not preempt"
    return 1
  fi
  return 0
}

stats() { # numbers on stdin -> "min median max"
  sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) { print "- - -"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.0f %.0f %.0f\n", v[1], m, v[NR] }'
}

declare -A MED=() MAX=()
WIRES=()
echo "# failover bench: $REPS reps; ipvsd $IPVSD ($(cd "$LAB_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo ?)$(cd "$LAB_ROOT" && git diff --quiet HEAD -- src 2>/dev/null || echo ", src modified")); $(keepalived --version 2>&1 | head -1)"
echo "# time from the signal to the master (just after one of its adverts) until the VIP is on the backup, ms"
printf '%-10s %-7s %-9s %7s %7s %7s %9s %s\n' program advert event min median max rfc_bound samples
for adv in ${BENCH_ADVERTS:-1000 100}; do
  for impl in ${BENCH_IMPLS:-ipvsd keepalived}; do
    for r in a b; do
      [ -n "${DWRAP[$r]:-}" ] && director_reap "$r" KILL
      vip_scrub "$r"
    done
    [ -n "$MON_PID" ] && kill "$MON_PID" 2>/dev/null
    MON=$WORK/monitor.$impl.$adv CAP=$WORK/adverts.$impl.$adv
    : >"$MON"
    ip -n "$NS_B" -ts monitor address dev eth0 >>"$MON" 2>/dev/null &
    MON_PID=$!
    disown "$MON_PID"
    [ -n "$MONA_PID" ] && kill "$MONA_PID" 2>/dev/null
    ip -n "$NS_A" -ts monitor address dev eth0 >"$WORK/monitor-a.$impl.$adv" 2>/dev/null &
    MONA_PID=$!
    disown "$MONA_PID"
    # Every advert on the wire, seen from the client, for the breakdown below.
    [ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null
    : >"$CAP"
    ip netns exec "$NS_C" tcpdump -l -n -tt --immediate-mode -i eth0 'ip proto 112' \
      >>"$CAP" 2>/dev/null &
    CAP_PID=$!
    disown "$CAP_PID"
    gen_config "$impl" a 150 "$adv"
    director_start a "$impl" "$CONF"
    gen_config "$impl" b 100 "$adv"
    director_start b "$impl" "$CONF"
    now_us
    if ! poll_until "$NOW_US" $(($(mdi_ms 150 "$adv") + 3000)) a_master; then
      err "$impl ${adv}ms: no election"
      continue
    fi
    : >"$WORK/KILL" && : >"$WORK/TERM" && : >"$WORK/KILL.wire" && : >"$WORK/TERM.wire"
    for ((rep = 1; rep <= REPS; rep++)); do
      for sig in KILL TERM; do
        RESULT_MS= WIRE=
        event "$impl" "$adv" "$sig"
        [ -n "$RESULT_MS" ] && echo "$RESULT_MS" >>"$WORK/$sig" && echo "$WIRE" >>"$WORK/$sig.wire"
      done
    done
    for sig in KILL TERM; do
      if [ $sig = KILL ]; then
        bound=$(mdi_ms 100 "$adv") ev=crash
      else
        bound=$(skew_ms 100 "$adv") ev=graceful
      fi
      read -r mn md mx < <(stats <"$WORK/$sig")
      MED[$impl.$adv.$sig]=$md MAX[$impl.$adv.$sig]=$mx
      printf '%-10s %-7s %-9s %7s %7s %7s %9s %s\n' "$impl" "${adv}ms" "$ev" "$mn" "$md" "$mx" \
        "$bound" "$(tr '\n' ' ' <"$WORK/$sig")"
      WIRES+=("$(printf '%-10s %-7s %-9s %s' "$impl" "${adv}ms" "$ev" "$(tr '\n' ' ' <"$WORK/$sig.wire")")")
    done
  done
done

echo "# on the wire (client capture), ms: crash: a's last advert -> VIP on b (RFC: master-down interval);"
echo "# graceful: signal -> a's priority-0 advert + that advert -> VIP on b (RFC: skew time)"
printf '%s\n' "${WIRES[@]}"
echo "# goal: ipvsd <= keepalived (median) and ipvsd's max within the RFC bound; the RFC bound is"
echo "# when the backup decides, the figures include putting the address on (tolerance ${TOL} ms, +N shown)"
printf '%-7s %-9s %12s %17s %9s %12s %12s\n' advert event ipvsd_median keepalived_median rfc_bound "ipvsd<=ka" within_bound
for adv in 1000 100; do
  for sig in KILL TERM; do
    if [ $sig = KILL ]; then bound=$(mdi_ms 100 "$adv") ev=crash; else bound=$(skew_ms 100 "$adv") ev=graceful; fi
    im=${MED[ipvsd.$adv.$sig]:--} km=${MED[keepalived.$adv.$sig]:--} ix=${MAX[ipvsd.$adv.$sig]:--}
    le=n/a within=n/a
    if [ "$im" != - ] && [ "$km" != - ]; then
      if [ "$im" -le "$km" ]; then le=yes; else le="no(+$((im - km)))"; fi
    fi
    if [ "$ix" != - ]; then
      if [ "$ix" -le "$bound" ]; then
        within=yes
      elif [ "$ix" -le $((bound + TOL)) ]; then
        within="yes(+$((ix - bound)))"
      else
        within="no(+$((ix - bound)))"
      fi
    fi
    printf '%-7s %-9s %12s %17s %9s %12s %12s\n' "${adv}ms" "$ev" "$im" "$km" "$bound" "$le" "$within"
  done
done
[ "$ERRORS" -eq 0 ]
