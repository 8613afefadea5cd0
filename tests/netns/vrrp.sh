#!/usr/bin/env bash
# VRRP failover between two directors in network namespaces, on the real kernel: election,
# crash (SIGKILL) and graceful (SIGTERM) failover, preemption, unicast, IPv6, malformed
# adverts, interoperation with keepalived (the reference implementation), interface
# tracking (a tracked link down -> FAULT -> the peer takes over; up -> back), script
# tracking (a failing script lowers the priority: the peer takes over), reload (an
# unchanged instance keeps its VIP without a gap), and split brain (VRRP cut between the
# directors -> two masters, visible in metrics; healed -> one master within one advert
# interval and the client's ARP back on it).
#
#   sudo tests/netns/vrrp.sh
#
# Topology (tests/netns/lib.sh): directors a (192.0.2.2, 2001:db8::2) and b (192.0.2.3,
# 2001:db8::3) and a client (192.0.2.100, 2001:db8::100) on one bridge; VIP 192.0.2.50/24
# (vrid 51) or 2001:db8::50/64 (vrid 52); a has priority 150, b 100.
#
# Environment:
#   IPVSD=PATH            binary under test (default: cargo build --release, target/release/ipvsd)
#   VRRP_IMPL=keepalived  run cases 1-6 with keepalived on both sides: checks the test itself
#                         against the reference (cases 7, interop, and 8, tracking, are
#                         then skipped)
#   VRRP_ADVERT_MS=1000   advert interval of the cases (a multiple of 10)
#   KEEP=1                keep the scratch directory (configs, logs)
#
# Output: `ok - ...` / `not ok - ...` / `ok - ... # SKIP reason` lines, then exactly one
# line `vrrp-netns: N passed, M failed[, K skipped]`. Exit 0 only if none failed.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$HERE/lib.sh"

IMPL=${VRRP_IMPL:-ipvsd}
ADV=${VRRP_ADVERT_MS:-1000}
NS_PREFIX=ivt-$$
WORK=$(mktemp -d /tmp/ivt-vrrp.XXXXXX)
PASSED=0 FAILED=0 SKIPPED=0
MARGIN=1000 # ms, for polling and process start

finish() {
  local rc=$?
  lab_cleanup
  if [ "${KEEP:-0}" = 1 ]; then echo "# kept $WORK" >&2; else rm -rf "$WORK"; fi
  return $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

ok() {
  PASSED=$((PASSED + 1))
  echo "ok - $1"
}
notok() {
  FAILED=$((FAILED + 1))
  echo "not ok - $1"
  [ -n "${2:-}" ] && echo "#   $2"
  local r
  for r in a b; do
    [ -n "${DLOG[$r]:-}" ] && [ -f "${DLOG[$r]}" ] || continue
    echo "#   --- tail of director $r (${DIMPL[$r]}) log ${DLOG[$r]##*/}"
    tail -n 15 "${DLOG[$r]}" | sed 's/^/#   /'
  done
}
skip() {
  SKIPPED=$((SKIPPED + 1))
  echo "ok - $1 # SKIP $2"
}
# check DESC CMD...: ok if CMD succeeds.
check() {
  local d=$1
  shift
  if "$@"; then ok "$d"; else notok "$d" "failed: $*"; fi
}
summary() {
  local s="vrrp-netns: $PASSED passed, $FAILED failed"
  [ "$SKIPPED" -gt 0 ] && s+=", $SKIPPED skipped"
  echo "$s"
}
die() {
  notok "$1" "${2:-}"
  summary
  exit 1
}

eq() { [ "$1" -eq "$2" ]; }
ge() { [ "$1" -ge "$2" ]; }

# --- setup ---------------------------------------------------------------------------

lab_require_root vrrp-netns
lab_install || die "install prerequisites (iproute2, keepalived, tcpdump, python3)"
case $IMPL in
  ipvsd | keepalived) ;;
  *) die "VRRP_IMPL must be ipvsd or keepalived, not $IMPL" ;;
esac
lab_ipvsd_binary || die "build ipvsd (cargo build --release)"
lab_openmetrics_binary || die "build the exposition reader (cargo build --release --example openmetrics)"
if [ $((ADV % 10)) -ne 0 ] || [ "$ADV" -lt 10 ]; then
  die "VRRP_ADVERT_MS=$ADV: must be a multiple of 10 ms"
fi
lab_up || die "create namespaces, bridge and veths"

MDI_A=$(mdi_ms 150 "$ADV") MDI_B=$(mdi_ms 100 "$ADV")
SKEW_A=$(skew_ms 150 "$ADV") SKEW_B=$(skew_ms 100 "$ADV")
echo "# $IMPL, advert ${ADV} ms: master-down a ${MDI_A} ms, b ${MDI_B} ms; skew a ${SKEW_A} ms, b ${SKEW_B} ms; scratch $WORK"

# The configs have no virtual_servers: check-config must accept that.
gen_config ipvsd a 150 "$ADV"
if out=$("$IPVSD" check-config "$CONF" 2>&1); then
  ok "check-config accepts a config with only a vrrp instance ($out)"
else
  notok "check-config accepts a config with only a vrrp instance" "$out"
fi

# start ROLE IMPL PRIO [gen_config options]
start() {
  local role=$1 impl=$2 prio=$3
  shift 3
  gen_config "$impl" "$role" "$prio" "$ADV" "$@"
  director_start "$role" "$impl" "$CONF"
}

# Stops every director, removes what they left, forgets the client's neighbours.
reset_lab() {
  local r
  for r in a b; do
    [ -n "${DWRAP[$r]:-}" ] && director_reap "$r" KILL
    vip_scrub "$r"
  done
  ip -n "$NS_C" neigh flush dev eth0 2>/dev/null || true
  DLOG=()
}

# election LABEL VIP: a (150) becomes master, b (100) stays backup, the client reaches
# the VIP at a's MAC.
election() {
  local label=$1 vip=$2 t0
  now_us
  t0=$NOW_US
  if poll_until "$t0" $((MDI_A + MARGIN + 2000)) vip_on a "$vip"; then
    ok "$label: a holds $vip (${ELAPSED_MS} ms after start)"
  else
    notok "$label: a holds $vip" "not within $((MDI_A + MARGIN + 2000)) ms of start"
    return 1
  fi
  # Let b see a few adverts before judging it.
  sleep "$(awk -v a="$ADV" 'BEGIN{printf "%.2f", 1.5*a/1000}')"
  check "$label: b does not hold $vip" vip_off b "$vip"
  check "$label: b never became master" eq "$(transitions b master)" 0
  check "$label: a became master once" eq "$(transitions a master)" 1
  check "$label: the client pings $vip" client_ping "$vip"
  check "$label: the client's neighbour entry for $vip is a's MAC $MAC_A" \
    client_neigh_is "$vip" "$MAC_A"
}

# takeover LABEL FROM SIG VIP BOUND_MS: signal the master FROM, the other director holds
# VIP within BOUND_MS.
takeover() {
  local label=$1 from=$2 sig=$3 vip=$4 bound=$5 to t0
  to=b
  [ "$from" = b ] && to=a
  now_us
  t0=$NOW_US
  director_signal "$from" "$sig"
  if poll_until "$t0" "$bound" vip_on "$to" "$vip"; then
    ok "$label: $to holds $vip ${ELAPSED_MS} ms after SIG$sig of $from (bound $bound ms)"
  else
    notok "$label: $to holds $vip within $bound ms of SIG$sig of $from" \
      "$( (vip_on "$to" "$vip" && echo "only after ${ELAPSED_MS} ms") || echo "not at ${ELAPSED_MS} ms")"
  fi
  TAKEOVER_T0=$t0
}

# client_moved LABEL VIP MAC: the client's neighbour entry follows the new master
# (gratuitous ARP / unsolicited NA), without the client sending anything first.
client_moved() {
  local label=$1 vip=$2 mac=$3 t0
  now_us
  t0=$NOW_US
  if poll_until "$t0" 2000 client_neigh_is "$vip" "$mac"; then
    ok "$label: the client's neighbour entry for $vip moved to $mac (announcement)"
  else
    notok "$label: the client's neighbour entry for $vip moved to $mac" \
      "$(ip -n "$NS_C" neigh show "$vip" dev eth0)"
  fi
  check "$label: the client pings $vip" client_ping "$vip"
}

sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN{printf "%.3f", m/1000}')"; }

# --- 1. election ----------------------------------------------------------------------

echo "# 1. election ($IMPL on both)"
start a "$IMPL" 150
start b "$IMPL" 100
election "1 election" "$VIP4"
# What each director's /metrics says (parsed by a real OpenMetrics parser).
st='ipvsd_vrrp_state{vrrp_instance="VI_51",state=' s51='{vrrp_instance="VI_51"}'
if [ "$IMPL" = ipvsd ]; then
  check "1 metrics: a's state series says master" metric_is a "${st}\"master\"}" 1
  check "1 metrics: a's backup series is 0" metric_is a "${st}\"backup\"}" 0
  check "1 metrics: b's state series says backup" metric_is b "${st}\"backup\"}" 1
  check "1 metrics: b's master series is 0" metric_is b "${st}\"master\"}" 0
  check "1 metrics: a's priority is 150" metric_is a "ipvsd_vrrp_priority$s51" 150
  check "1 metrics: a sent adverts" metric_ge a "ipvsd_vrrp_adverts_sent$s51" 1
  check "1 metrics: b received adverts" metric_ge b "ipvsd_vrrp_adverts_received$s51" 1
  check "1 metrics: a became master once" metric_is a "ipvsd_vrrp_became_master$s51" 1
  check "1 metrics: b never became master" metric_is b "ipvsd_vrrp_became_master$s51" 0
fi

# --- 2. crash of the master -------------------------------------------------------------

echo "# 2. SIGKILL of the master"
takeover "2 crash" a KILL "$VIP4" $((MDI_B + MARGIN))
check "2 crash: b became master once" eq "$(transitions b master)" 1
if [ "$IMPL" = ipvsd ]; then
  check "2 metrics: b's state series says master" metric_is b "${st}\"master\"}" 1
  check "2 metrics: b's backup series is 0" metric_is b "${st}\"backup\"}" 0
  check "2 metrics: b became master once" metric_is b "ipvsd_vrrp_became_master$s51" 1
  check "2 metrics: b counted one transition to master" \
    metric_is b 'ipvsd_vrrp_transitions{vrrp_instance="VI_51",to="master"}' 1
  check "2 crash: b logged reason=master_down" \
    grep -aq 'vrrp state changed.*reason=master_down' "${DLOG[b]}"
fi
client_moved "2 crash" "$VIP4" "$MAC_B"
director_reap a

# --- 3. preemption ----------------------------------------------------------------------

echo "# 3. restart of a: preempt, then preempt: false"
# A crashed machine loses its addresses; the SIGKILLed process left them: take them off.
vip_scrub a
start a "$IMPL" 150
now_us
t0=$NOW_US
both() { vip_on a "$VIP4" && vip_off b "$VIP4"; }
# holders: who holds $VIP4, for a failure's detail.
holders() {
  echo "a: $(vip_on a "$VIP4" && echo has || echo lacks) it, b: $(vip_on b "$VIP4" && echo has || echo lacks) it"
}
if poll_until "$t0" $((MDI_A + MARGIN + 2000)) both; then
  ok "3 preempt: a took $VIP4 back and b released it (${ELAPSED_MS} ms after restart)"
else
  notok "3 preempt: a took $VIP4 back and b released it" "$(holders)"
fi
sleep_ms "$ADV"
check "3 preempt: still only a holds $VIP4 one advert later" both
check "3 preempt: b went back to backup" ge "$(transitions b backup)" 2
client_moved "3 preempt" "$VIP4" "$MAC_A"

# Crash a again (b takes over), restart it with preempt: false: b keeps the VIP.
takeover "3 no-preempt setup" a KILL "$VIP4" $((MDI_B + MARGIN))
director_reap a
check "3 no-preempt setup: the crashed a left $VIP4 on its interface" vip_on a "$VIP4"
b_backups=$(transitions b backup)
# No scrub this time: the restarted a finds the address the crash left behind.
start a "$IMPL" 150 preempt=false
sleep_ms $((MDI_A + MARGIN + 1000))
check "3 no-preempt: b keeps $VIP4 after a restarts with preempt: false" vip_on b "$VIP4"
check "3 no-preempt: b did not go back to backup" eq "$(transitions b backup)" "$b_backups"
check "3 no-preempt: a did not become master" eq "$(transitions a master)" 0
check "3 no-preempt: the restarted a (backup) does not carry $VIP4 left by its crash" \
  vip_off a "$VIP4"

# --- 4. graceful stop ---------------------------------------------------------------------

echo "# 4. SIGTERM of the master"
reset_lab
start a "$IMPL" 150
start b "$IMPL" 100
election "4 graceful setup" "$VIP4"
a_had=0
vip_on a "$VIP4" && a_had=1
takeover "4 graceful" a TERM "$VIP4" $((SKEW_B + MARGIN))
if [ $a_had = 1 ] && poll_until "$TAKEOVER_T0" 2000 vip_off a "$VIP4"; then
  ok "4 graceful: the stopped a removed $VIP4 (${ELAPSED_MS} ms after SIGTERM)"
else
  notok "4 graceful: the stopped a removed $VIP4" "still there ${ELAPSED_MS} ms after SIGTERM"
fi
if director_reap a; then
  check "4 graceful: a exited with status 0 after SIGTERM" eq "$REAP_STATUS" 0
else
  notok "4 graceful: a exited after SIGTERM" "still running 10 s later; killed"
fi
if [ "$IMPL" = ipvsd ]; then
  check "4 graceful: b logged reason=master_released" \
    grep -aq 'vrrp state changed.*reason=master_released' "${DLOG[b]}"
fi
client_moved "4 graceful" "$VIP4" "$MAC_B"

# --- 5. unicast, IPv6 ---------------------------------------------------------------------

echo "# 5a. unicast IPv4"
reset_lab
start a "$IMPL" 150 unicast
start b "$IMPL" 100 unicast
election "5a unicast" "$VIP4"
# The adverts really are unicast: b receives them addressed to itself.
cap=$(ip netns exec "$NS_B" timeout $(((ADV * 3 + 999) / 1000 + 1)) \
  tcpdump -l -n -c 2 -i eth0 'ip proto 112' 2>/dev/null)
if [[ $cap == *"$IP4_A > $IP4_B: VRRP"* && $cap != *224.0.0.18* ]]; then
  ok "5a unicast: a's adverts go to $IP4_B, not to 224.0.0.18"
else
  notok "5a unicast: a's adverts go to $IP4_B, not to 224.0.0.18" "captured: $cap"
fi
takeover "5a unicast crash" a KILL "$VIP4" $((MDI_B + MARGIN))
client_moved "5a unicast crash" "$VIP4" "$MAC_B"

echo "# 5b. IPv6 (vrid 52)"
reset_lab
start a "$IMPL" 150 ipv6
start b "$IMPL" 100 ipv6
election "5b ipv6" "$VIP6"
takeover "5b ipv6 crash" a KILL "$VIP6" $((MDI_B + MARGIN))
check "5b ipv6 crash: b became master once" eq "$(transitions b master)" 1
client_moved "5b ipv6 crash" "$VIP6" "$MAC_B"

# --- 6. malformed adverts -----------------------------------------------------------------

echo "# 6. malformed and foreign adverts from the client"
reset_lab
start a "$IMPL" 150
start b "$IMPL" 100
election "6 garbage setup" "$VIP4"
ta=$(transitions a) tb=$(transitions b)
# Each would make a step down (priority 254 > 150) if it were accepted.
# (The advert interval is the lab's: a backup learns it from the control advert below.)
send() {
  ip netns exec "$NS_C" python3 "$HERE/vrrp-send.py" --src "$IP4_C" --interval-ms "$ADV" \
    --count 3 "$@" >/dev/null
}
sent=0
send --truncate 10 && sent=$((sent + 1))      # the address list cut off
send --truncate 6 && sent=$((sent + 1))       # shorter than the header
send --ttl 64 && sent=$((sent + 1))           # RFC 5798 section 7.1: TTL must be 255
send --vrid 52 && sent=$((sent + 1))          # another virtual router
send --bad-checksum && sent=$((sent + 1))
check "6 garbage: 5 kinds of bad advert sent (x3 each)" eq "$sent" 5
sleep_ms $((ADV * 3 / 2))
check "6 garbage: no state change on a" eq "$(transitions a)" "$ta"
check "6 garbage: no state change on b" eq "$(transitions b)" "$tb"
check "6 garbage: a still holds $VIP4" vip_on a "$VIP4"
check "6 garbage: b does not hold $VIP4" vip_off b "$VIP4"
if [ "$IMPL" = ipvsd ]; then
  # The first drop of each reason is logged (warn, then rate-limited); another vrid's
  # adverts are counted but not logged (every instance on a shared link sees them).
  for r in a b; do
    for why in malformed bad_ttl bad_checksum; do
      check "6 garbage: $r logged a $why drop" \
        grep -aqE "vrrp advert dropped.*reason=$why|reason=$why.*vrrp advert dropped" "${DLOG[$r]}"
    done
    # Three of each were sent; the two truncations are both `malformed`.
    for why in bad_ttl bad_checksum other_vrid; do
      check "6 metrics: $r counted 3 $why drops" \
        metric_is "$r" "ipvsd_vrrp_packets_dropped{vrrp_instance=\"VI_51\",reason=\"$why\"}" 3
    done
    check "6 metrics: $r counted 6 malformed drops" \
      metric_is "$r" 'ipvsd_vrrp_packets_dropped{vrrp_instance="VI_51",reason="malformed"}' 6
  done
fi
# Control: the same advert, valid, does reach a (so the checks above can fail): a steps
# down to backup, then, with nobody advertising, takes over again.
send_ok=0
vip_on a "$VIP4" && send --count 1 && send_ok=1 # (only meaningful while a holds it)
now_us
t0=$NOW_US
if [ $send_ok = 1 ] && poll_until "$t0" $((ADV + MARGIN)) vip_off a "$VIP4"; then
  ok "6 control: a valid priority-254 advert from the client makes a release $VIP4 (${ELAPSED_MS} ms)"
else
  notok "6 control: a valid priority-254 advert from the client makes a release $VIP4"
fi
check "6 control: a logged the step down to backup" ge "$(transitions a backup)" 2
if poll_until "$t0" $((MDI_A + MARGIN + 1000)) vip_on a "$VIP4"; then
  ok "6 control: a takes $VIP4 again once the client is silent (${ELAPSED_MS} ms)"
else
  notok "6 control: a takes $VIP4 again once the client is silent"
fi

# --- 7. interop with keepalived -------------------------------------------------------------

if [ "$IMPL" != ipvsd ]; then
  skip "7 interop with keepalived" "VRRP_IMPL=$IMPL: interop needs ipvsd on one side"
else
  echo "# 7a. keepalived master (150), ipvsd backup (100)"
  reset_lab
  start a keepalived 150
  start b ipvsd 100
  election "7a keepalived master" "$VIP4"
  takeover "7a crash of keepalived" a KILL "$VIP4" $((MDI_B + MARGIN))
  check "7a: ipvsd became master once" eq "$(transitions b master)" 1
  client_moved "7a crash of keepalived" "$VIP4" "$MAC_B"

  echo "# 7b. ipvsd master (150), keepalived backup (100)"
  reset_lab
  start a ipvsd 150
  start b keepalived 100
  election "7b ipvsd master" "$VIP4"
  takeover "7b crash of ipvsd" a KILL "$VIP4" $((MDI_B + MARGIN))
  client_moved "7b crash of ipvsd" "$VIP4" "$MAC_B"
  director_reap a
  start a ipvsd 150
  now_us
  t0=$NOW_US
  if poll_until "$t0" $((MDI_A + MARGIN + 2000)) both; then
    ok "7b: the restarted ipvsd preempts keepalived (${ELAPSED_MS} ms after restart), keepalived released $VIP4"
  else
    notok "7b: the restarted ipvsd preempts keepalived" "$(holders)"
  fi
  client_moved "7b preempt" "$VIP4" "$MAC_A"
fi

# --- 8. interface tracking --------------------------------------------------------------

# link_back LABEL DEV: a's DEV comes back up after a took a to FAULT; a (150, preempting)
# holds the VIP again, b released it, and a logged leaving FAULT.
link_back() {
  local label=$1 dev=$2 t0
  ip -n "$(ns_of a)" link set "$dev" up
  now_us
  t0=$NOW_US
  if poll_until "$t0" $((MDI_A + MARGIN)) both; then
    ok "$label: $dev back up, a holds $VIP4 again (${ELAPSED_MS} ms) and b released it"
  else
    notok "$label: a holds $VIP4 again once $dev is back" "$(holders)"
  fi
  check "$label: a logged leaving fault" \
    grep -aq 'vrrp state changed from=fault to=backup reason=fault_cleared' "${DLOG[a]}"
}

if [ "$IMPL" != ipvsd ]; then
  skip "8 interface tracking" "VRRP_IMPL=$IMPL: the generated keepalived config tracks nothing"
else
  echo "# 8. a tracks an interface with weight 0: down -> FAULT, b takes over; up -> a again"
  reset_lab
  # The tracked link: a veth pair inside a's namespace (its carrier follows the peer).
  ip -n "$(ns_of a)" link add trk0 type veth peer name trk1
  ip -n "$(ns_of a)" link set trk1 up
  ip -n "$(ns_of a)" link set trk0 up
  start a ipvsd 150 track=trk0
  start b ipvsd 100
  election "8 tracking" "$VIP4"
  # A link notification, then a priority-0 advert: b takes over after its skew time (a
  # second of polling would show as SKEW_B + up to 1000 ms).
  ip -n "$(ns_of a)" link set trk0 down
  now_us
  t0=$NOW_US
  if poll_until "$t0" $((SKEW_B + 500)) vip_on b "$VIP4"; then
    ok "8 tracking: b holds $VIP4 ${ELAPSED_MS} ms after a's tracked link went down (skew $SKEW_B ms)"
  else
    notok "8 tracking: b holds $VIP4 after a's tracked link went down" "not within $((SKEW_B + 500)) ms"
  fi
  check "8 tracking: a released $VIP4" vip_off a "$VIP4"
  check "8 tracking: a logged the move to fault" \
    grep -aq 'vrrp state changed from=master to=fault reason=fault' "${DLOG[a]}"
  link_back "8 tracking" trk0
fi

# --- 9. reload -----------------------------------------------------------------------------

if [ "$IMPL" != ipvsd ]; then
  skip "9 reload" "VRRP_IMPL=$IMPL"
else
  echo "# 9. SIGHUP of the master: unchanged instance keeps running (no VIP flap); changed one restarts"
  reset_lab
  start a ipvsd 150
  start b ipvsd 100
  election "9 reload setup" "$VIP4"
  ta=$(transitions a) tb=$(transitions b)
  # Same file: the instance is kept. The VIP must never leave a meanwhile.
  director_signal a HUP
  stays() {
    local i
    for ((i = 0; i < 200; i++)); do
      vip_on a "$VIP4" && vip_off b "$VIP4" || return 1
      sleep 0.01
    done
  }
  check "9 reload: a holds $VIP4 without a gap for 2 s after SIGHUP" stays
  check "9 reload: a logged the instance kept" \
    grep -aq 'reload applied.*vrrp_kept=1 vrrp_restarted=0' "${DLOG[a]}"
  check "9 reload: no state change on a" eq "$(transitions a)" "$ta"
  check "9 reload: no state change on b" eq "$(transitions b)" "$tb"
  check "9 metrics: a still became master once" metric_is a "ipvsd_vrrp_became_master$s51" 1
  check "9 metrics: the reload counted as a success" \
    metric_is a 'ipvsd_config_reloads{result="success"}' 1
  # A changed priority (120, still above b): the instance restarts with it.
  sed -i 's/priority: 150/priority: 120/' "${DCONF[a]}"
  director_signal a HUP
  now_us
  t0=$NOW_US
  poll_until "$t0" 3000 grep -aq 'reload applied.*vrrp_kept=0 vrrp_restarted=1' "${DLOG[a]}"
  check "9 reload: a changed priority restarts the instance" \
    grep -aq 'reload applied.*vrrp_kept=0 vrrp_restarted=1' "${DLOG[a]}"
  if poll_until "$t0" $((MDI_A + MARGIN + 2000)) both; then
    ok "9 reload: a holds $VIP4 again with priority 120 (${ELAPSED_MS} ms after SIGHUP)"
  else
    notok "9 reload: a holds $VIP4 again with priority 120"
  fi
  check "9 metrics: a's priority is 120" metric_is a "ipvsd_vrrp_priority$s51" 120
  # Renamed: VI_51 is removed and VI_X starts. Nothing of VI_51 stays exported (a removed
  # master once stayed there as master).
  sed -i 's/name: VI_51/name: VI_X/' "${DCONF[a]}"
  director_signal a HUP
  now_us
  t0=$NOW_US
  reloads3() { [ "$(grep -ac 'reload applied' "${DLOG[a]}")" -ge 3 ]; }
  poll_until "$t0" 3000 reloads3
  check "9 reload: the renamed instance was applied" reloads3
  none_of_vi51() {
    local text
    text=$(ip netns exec "$(ns_of a)" curl -sf --max-time 5 http://127.0.0.1:9180/metrics) || return 1
    [ -n "$text" ] && [[ $text != *'vrrp_instance="VI_51"'* ]]
  }
  check "9 metrics: no series of the removed instance VI_51" none_of_vi51
  check "9 metrics: VI_X has its priority series" metric_is a 'ipvsd_vrrp_priority{vrrp_instance="VI_X"}' 120
fi

# --- 10. split brain -------------------------------------------------------------------------

if [ "$IMPL" != ipvsd ]; then
  skip "10 split brain" "VRRP_IMPL=$IMPL"
elif ! command -v iptables >/dev/null 2>&1; then
  notok "10 split brain: iptables is available (it cuts VRRP between the directors)"
else
  echo "# 10. split brain: VRRP between the directors cut -> two masters; healed -> one"
  reset_lab
  start a ipvsd 150
  start b ipvsd 100
  election "10 split setup" "$VIP4"
  # The partition: each director drops the other's adverts (the client still reaches both).
  ip netns exec "$(ns_of a)" iptables -I INPUT -s "$IP4_B" -p 112 -j DROP
  ip netns exec "$(ns_of b)" iptables -I INPUT -s "$IP4_A" -p 112 -j DROP
  now_us
  t0=$NOW_US
  two() { vip_on a "$VIP4" && vip_on b "$VIP4"; }
  if poll_until "$t0" $((MDI_B + MARGIN)) two; then
    ok "10 split: b also became master (${ELAPSED_MS} ms after the cut): both hold $VIP4"
  else
    notok "10 split: b also became master" "not within $((MDI_B + MARGIN)) ms"
  fi
  check "10 metrics: a says master" metric_is a "${st}\"master\"}" 1
  check "10 metrics: b says master too" metric_is b "${st}\"master\"}" 1
  # b's takeover announcement moved the client to b.
  check "10 split: the client's neighbour entry for $VIP4 is b's MAC" client_neigh_is "$VIP4" "$MAC_B"
  # Heal. a's next advert (within one interval) reaches b, which steps down at once; a,
  # hearing b's lower-priority adverts, answers with an advert and fresh gratuitous ARPs.
  ip netns exec "$(ns_of a)" iptables -D INPUT -s "$IP4_B" -p 112 -j DROP
  ip netns exec "$(ns_of b)" iptables -D INPUT -s "$IP4_A" -p 112 -j DROP
  now_us
  t0=$NOW_US
  if poll_until "$t0" $((ADV + MARGIN)) both; then
    ok "10 heal: one master (a) ${ELAPSED_MS} ms after the partition healed (bound: one advert interval + ${MARGIN} ms)"
  else
    notok "10 heal: one master (a) within one advert interval" "$(holders)"
  fi
  check "10 heal: b logged the step down" \
    grep -aq 'vrrp state changed from=master to=backup reason=higher_priority' "${DLOG[b]}"
  check "10 metrics: b says backup" metric_is b "${st}\"backup\"}" 1
  check "10 metrics: a still master, never left it" metric_is a "ipvsd_vrrp_became_master$s51" 1
  # a's fresh gratuitous ARP took the client back (b's announcement had moved it to b).
  client_moved "10 heal" "$VIP4" "$MAC_A"
fi

# --- 12. script tracking (before 11, which must stay last) ------------------------------------

if [ "$IMPL" != ipvsd ]; then
  skip "12 script tracking" "VRRP_IMPL=$IMPL: the generated keepalived config tracks nothing"
else
  echo "# 12. a tracks a script (weight -100): failing -> priority 50, b takes over; passing -> a again"
  reset_lab
  flag=$WORK/a.flag
  touch "$flag"
  # The script runs as global.exec_user (nobody): it must reach the flag.
  chmod o+x "$WORK"
  start a ipvsd 150 script="$flag"
  start b ipvsd 100
  election "12 script" "$VIP4"
  check "12 metrics: a's script passes" metric_is a 'ipvsd_vrrp_script_up{vrrp_script="flag"}' 1
  # Failing after fall (2) runs 200 ms apart; a advertises 50, which b (preempting)
  # ignores: b takes over on its master-down timer.
  rm -f "$flag"
  now_us
  t0=$NOW_US
  bound=$((400 + MDI_B + MARGIN))
  if poll_until "$t0" "$bound" vip_on b "$VIP4"; then
    ok "12 script: b holds $VIP4 ${ELAPSED_MS} ms after a's script began to fail (bound $bound ms)"
  else
    notok "12 script: b holds $VIP4 after a's script began to fail" "not within $bound ms: $(holders)"
  fi
  check "12 script: a released $VIP4" vip_off a "$VIP4"
  check "12 metrics: a's script fails" metric_is a 'ipvsd_vrrp_script_up{vrrp_script="flag"}' 0
  check "12 metrics: a's priority is 50" metric_is a "ipvsd_vrrp_priority$s51" 50
  check "12 script: a logged the failing script" grep -aq 'vrrp script failing script=flag' "${DLOG[a]}"
  check "12 script: a logged the tracked change" \
    grep -aq 'tracked script changed script=flag passing=false weight=-100' "${DLOG[a]}"
  touch "$flag"
  now_us
  t0=$NOW_US
  bound=$((400 + MDI_A + MARGIN))
  if poll_until "$t0" "$bound" both; then
    ok "12 script: passing again, a holds $VIP4 again (${ELAPSED_MS} ms) and b released it"
  else
    notok "12 script: a holds $VIP4 again once its script passes" "not within $bound ms: $(holders)"
  fi
  check "12 metrics: a's priority is 150 again" metric_is a "ipvsd_vrrp_priority$s51" 150
fi

# --- 11. the instance's own interface ---------------------------------------------------------
# Last: taking eth0 down flushes a's IPv6 addresses, which the cases above use.

if [ "$IMPL" != ipvsd ]; then
  skip "11 own interface" "VRRP_IMPL=$IMPL"
else
  echo "# 11. a's own interface goes down -> FAULT (keepalived's default), b takes over; up -> a again"
  reset_lab
  start a ipvsd 150
  start b ipvsd 100
  election "11 own interface setup" "$VIP4"
  ip -n "$(ns_of a)" link set eth0 down
  now_us
  t0=$NOW_US
  # a's priority-0 advert cannot leave a down link: b takes over on its master-down timer.
  if poll_until "$t0" $((MDI_B + MARGIN)) vip_on b "$VIP4"; then
    ok "11 own interface: b holds $VIP4 ${ELAPSED_MS} ms after a's eth0 went down"
  else
    notok "11 own interface: b holds $VIP4 after a's eth0 went down" "not within $((MDI_B + MARGIN)) ms"
  fi
  check "11 own interface: a logged the move to fault" \
    grep -aq 'vrrp state changed from=master to=fault reason=fault' "${DLOG[a]}"
  check "11 own interface: a released $VIP4" vip_off a "$VIP4"
  check "11 metrics: a says fault" metric_is a "${st}\"fault\"}" 1
  link_back "11 own interface" eth0
fi

reset_lab
summary
[ "$FAILED" -eq 0 ]
