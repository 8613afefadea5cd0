# shellcheck shell=bash
# Shared by tests/netns/vrrp.sh and tests/bench/failover.sh: a two-director VRRP lab in
# network namespaces, directors run by ipvsd or by keepalived (the reference), and timed
# polling helpers. Sourced, not run. Documentation addresses only.
#
#   NS_A (director a)        NS_BR (bridge br0)        NS_B (director b)
#   eth0 02:00:00:00:00:02 -- pa  [br0]  pb -- eth0 02:00:00:00:00:03
#   192.0.2.2/24                   pc                   192.0.2.3/24
#   2001:db8::2/64                  |                   2001:db8::3/64
#                          NS_C (client) eth0 02:00:00:00:00:64
#                          192.0.2.100/24, 2001:db8::100/64
#
# The caller sets NS_PREFIX (unique, e.g. ivt-$$) and WORK (a scratch directory) before
# calling lab_up, and calls lab_cleanup from its EXIT trap.

export LC_ALL=C
export TZ=UTC

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

MAC_A=02:00:00:00:00:02
MAC_B=02:00:00:00:00:03
MAC_C=02:00:00:00:00:64
IP4_A=192.0.2.2
IP4_B=192.0.2.3
IP4_C=192.0.2.100
IP6_A=2001:db8::2
IP6_B=2001:db8::3
IP6_C=2001:db8::100
VIP4=192.0.2.50
VIP6=2001:db8::50

declare -A DPID=() DWRAP=() DIMPL=() DLOG=() DCONF=() DSTATUS=() DKA_VRRP_PIDFILE=() DSTARTS=()

# --- prerequisites -------------------------------------------------------------------

lab_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "$1: must run as root (network namespaces, raw sockets)" >&2
    exit 1
  fi
}

# Installs what the lab needs when it is missing (CI runs on a fresh machine as root).
lab_install() {
  local need=()
  command -v ip >/dev/null || need+=(iproute2)
  command -v keepalived >/dev/null || need+=(keepalived)
  command -v tcpdump >/dev/null || need+=(tcpdump)
  command -v python3 >/dev/null || need+=(python3)
  command -v ping >/dev/null || need+=(iputils-ping)
  command -v curl >/dev/null || need+=(curl)
  command -v iptables >/dev/null || need+=(iptables)
  if [ ${#need[@]} -gt 0 ]; then
    echo "# installing: ${need[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  fi
}

# Sets IPVSD to the binary under test: $IPVSD if given, else a fresh release build.
lab_ipvsd_binary() {
  if [ -n "${IPVSD:-}" ]; then
    [ -x "$IPVSD" ] || { echo "IPVSD=$IPVSD is not an executable" >&2; return 1; }
    return 0
  fi
  (cd "$LAB_ROOT" && cargo build --release -q) >&2 || return 1
  IPVSD=$LAB_ROOT/target/release/ipvsd
}

# Sets OPENMETRICS to the exposition reader (examples/openmetrics.rs: a real OpenMetrics
# parser; prints the value of each selector, fails if the text does not parse).
lab_openmetrics_binary() {
  (cd "$LAB_ROOT" && cargo build --release -q --example openmetrics) >&2 || return 1
  OPENMETRICS=$LAB_ROOT/target/release/examples/openmetrics
}

# metric ROLE SELECTOR...: scrapes the director's /metrics (127.0.0.1:9180 in its
# namespace) and prints each selector's value (see examples/openmetrics.rs).
metric() {
  local role=$1 text
  shift
  text=$(ip netns exec "$(ns_of "$role")" curl -sf --max-time 5 http://127.0.0.1:9180/metrics) || {
    echo "metric: no answer from $role's /metrics" >&2
    return 1
  }
  printf '%s\n' "$text" | "$OPENMETRICS" "$@"
}

# metric_is ROLE SELECTOR VALUE: the selector has exactly this value (numeric compare).
metric_is() {
  local v
  v=$(metric "$1" "$2") || return 1
  awk -v a="$v" -v b="$3" 'BEGIN { exit !(a + 0 == b + 0) }' || {
    echo "metric_is: $1 $2 = $v, want $3" >&2
    return 1
  }
}

# metric_ge ROLE SELECTOR VALUE: the selector is at least VALUE.
metric_ge() {
  local v
  v=$(metric "$1" "$2") || return 1
  awk -v a="$v" -v b="$3" 'BEGIN { exit !(a + 0 >= b + 0) }' || {
    echo "metric_ge: $1 $2 = $v, want >= $3" >&2
    return 1
  }
}

# --- time ----------------------------------------------------------------------------

# Sets NOW_US to the wall clock in microseconds (no fork).
now_us() {
  local t=$EPOCHREALTIME
  NOW_US=$((${t%.*} * 1000000 + 10#${t#*.}))
}

# poll_until T0_US LIMIT_MS CMD...: runs CMD every ~10 ms until it succeeds or LIMIT_MS
# have passed since T0_US. On success sets ELAPSED_MS (since T0_US) and returns 0.
# Bounded by time and by an iteration cap.
poll_until() {
  local t0=$1 limit=$2 i max
  shift 2
  max=$((limit / 5 + 200))
  for ((i = 0; i < max; i++)); do
    if "$@"; then
      now_us
      ELAPSED_MS=$(((NOW_US - t0) / 1000))
      return 0
    fi
    now_us
    if (((NOW_US - t0) / 1000 > limit)); then
      ELAPSED_MS=$(((NOW_US - t0) / 1000))
      return 1
    fi
    sleep 0.01
  done
  ELAPSED_MS=-1
  return 1
}

# RFC 5798 section 6.1 (version 3): Skew_Time = ((256 - Priority) * Master_Adver_Interval)
# / 256, Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time. In milliseconds.
skew_ms() { echo $(((256 - $1) * $2 / 256)); }
mdi_ms() { echo $((3 * $2 + (256 - $1) * $2 / 256)); }

# --- topology ------------------------------------------------------------------------

ns_of() { echo "$NS_PREFIX-$1"; }

lab_up() {
  local r
  NS_A=$(ns_of a) NS_B=$(ns_of b) NS_C=$(ns_of c) NS_BR=$(ns_of br)
  for r in "$NS_A" "$NS_B" "$NS_C" "$NS_BR"; do
    ip netns add "$r"
    ip -n "$r" link set lo up
    # No DAD: link-local (the VRRPv3 IPv6 source) and global addresses usable at once.
    ip netns exec "$r" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
      net.ipv6.conf.default.accept_dad=0
  done
  ip -n "$NS_BR" link add br0 type bridge
  # No multicast snooping: 224.0.0.18 / ff02::12 reach every port.
  ip -n "$NS_BR" link set br0 type bridge mcast_snooping 0
  ip -n "$NS_BR" link set br0 up
  lab_port "$NS_A" pa "$MAC_A" "$IP4_A" "$IP6_A"
  lab_port "$NS_B" pb "$MAC_B" "$IP4_B" "$IP6_B"
  lab_port "$NS_C" pc "$MAC_C" "$IP4_C" "$IP6_C"
}

lab_port() {
  local ns=$1 port=$2 mac=$3 ip4=$4 ip6=$5
  ip link add eth0 netns "$ns" address "$mac" type veth peer name "$port" netns "$NS_BR"
  ip -n "$NS_BR" link set "$port" master br0 up
  ip -n "$ns" addr add "$ip4/24" dev eth0
  ip -n "$ns" addr add "$ip6/64" dev eth0 nodad
  ip -n "$ns" link set eth0 up
}

lab_cleanup() {
  local r
  for r in "${!DWRAP[@]}"; do
    director_reap "$r" KILL 2>/dev/null || true
  done
  for r in a b c br; do
    ip netns del "$NS_PREFIX-$r" 2>/dev/null || true
  done
}

# vip_on ROLE ADDR: the address is on the director's eth0.
# (Output captured first: with pipefail, `ip | grep -q` fails when grep's early exit
# makes ip die of SIGPIPE.)
vip_on() {
  local out
  out=$(ip -n "$(ns_of "$1")" -o addr show dev eth0 2>/dev/null) || return 1
  [[ $out == *" $2/"* ]]
}
vip_off() { ! vip_on "$@"; }

# Takes the virtual addresses off a director whose program is gone (a crashed machine
# loses its addresses; a SIGKILLed process leaves them).
vip_scrub() {
  ip -n "$(ns_of "$1")" addr del "$VIP4/24" dev eth0 2>/dev/null || true
  ip -n "$(ns_of "$1")" addr del "$VIP6/64" dev eth0 2>/dev/null || true
}

# --- configs -------------------------------------------------------------------------

# gen_config IMPL ROLE PRIO ADVERT_MS [preempt=false] [unicast] [ipv6] [track=DEV]
#            [script=FILE] (ipvsd: a script `flag` passing while FILE exists, every
#            200 ms, rise and fall 2, tracked with weight -100)
# Writes the config for one director; sets CONF to its path (no subshell: the start
# counter lives in this shell).
gen_config() {
  local impl=$1 role=$2 prio=$3 adv=$4
  shift 4
  local preempt=true unicast=0 fam=4 track='' script='' o
  for o in "$@"; do
    case $o in
      preempt=false) preempt=false ;;
      track=*) track=${o#track=} ;;
      script=*) script=${o#script=} ;;
      unicast) unicast=1 ;;
      ipv6) fam=6 ;;
      *) echo "gen_config: unknown option $o" >&2; return 1 ;;
    esac
  done
  local self peer vid vip name
  if [ "$role" = a ]; then self=$IP4_A peer=$IP4_B; else self=$IP4_B peer=$IP4_A; fi
  if [ $fam = 6 ]; then
    vid=52 vip=$VIP6/64 name=VI_52
    if [ "$role" = a ]; then self=$IP6_A peer=$IP6_B; else self=$IP6_B peer=$IP6_A; fi
  else
    vid=51 vip=$VIP4/24 name=VI_51
  fi
  DSTARTS[$role]=$((${DSTARTS[$role]:-0} + 1))
  local f=$WORK/$role.${DSTARTS[$role]}.$impl.conf
  if [ "$impl" = ipvsd ]; then
    {
      echo "global: {node_name: $role, control_socket: $WORK/$role.sock}"
      if [ -n "$script" ]; then
        echo "vrrp_scripts:"
        echo "  - {name: flag, program: /usr/bin/test, args: [-e, $script], interval: 200ms, rise: 2, fall: 2}"
      fi
      echo "vrrp_instances:"
      echo "  - name: $name"
      echo "    interface: eth0"
      echo "    vrid: $vid"
      echo "    priority: $prio"
      echo "    advert_interval: ${adv}ms"
      echo "    preempt: $preempt"
      if [ $unicast = 1 ]; then
        echo "    unicast_source: $self"
        echo "    unicast_peers: [$peer]"
      fi
      echo "    virtual_addresses: [$vip]"
      [ -n "$track" ] && echo "    track: {interfaces: [{name: $track, weight: 0}]}"
      [ -n "$script" ] && echo "    track: {scripts: [{name: flag, weight: -100}]}"
    } >"$f"
  else
    local secs
    secs=$(printf '%d.%02d' $((adv / 1000)) $((adv % 1000 / 10)))
    {
      echo "global_defs {"
      echo "    router_id $role"
      echo "}"
      echo "vrrp_instance $name {"
      echo "    version 3"
      echo "    state BACKUP"
      echo "    interface eth0"
      echo "    virtual_router_id $vid"
      echo "    priority $prio"
      echo "    advert_int $secs"
      [ $preempt = false ] && echo "    nopreempt"
      if [ $unicast = 1 ]; then
        echo "    unicast_src_ip $self"
        echo "    unicast_peer {"
        echo "        $peer"
        echo "    }"
      fi
      echo "    virtual_ipaddress {"
      echo "        $vip"
      echo "    }"
      echo "}"
    } >"$f"
  fi
  CONF=$f
}

# --- directors -----------------------------------------------------------------------

# director_start ROLE IMPL CONF: runs the director in the background in its namespace,
# its output in a fresh log file. A wrapper subshell waits for it and records its exit
# status (so a killed director is reported in its own log, not on this script's stderr);
# DPID is the director's own pid (the signals go there).
director_start() {
  local role=$1 impl=$2 conf=$3 ns p i
  ns=$(ns_of "$role")
  p=${conf%.conf}
  DIMPL[$role]=$impl DLOG[$role]=$p.log DCONF[$role]=$conf DSTATUS[$role]=$p.status
  rm -f "$p.pidof" "$p.status"
  local cmd
  if [ "$impl" = ipvsd ]; then
    cmd=("$IPVSD" run --config "$conf" --ipvs-backend memory --log-level info)
  else
    DKA_VRRP_PIDFILE[$role]=$p.vrrp.pid
    cmd=(keepalived -n -l -D --vrrp -f "$conf" -p "$p.pid" -r "$p.vrrp.pid" -c "$p.chk.pid")
  fi
  (
    ip netns exec "$ns" sh -c 'echo $$ >"$0"; exec "$@"' "$p.pidof" "${cmd[@]}"
    echo $? >"$p.status"
  ) >"$p.log" 2>&1 &
  DWRAP[$role]=$!
  DPID[$role]=
  for ((i = 0; i < 500; i++)); do
    [ -s "$p.pidof" ] && break
    sleep 0.01
  done
  DPID[$role]=$(cat "$p.pidof" 2>/dev/null)
  [ -n "${DPID[$role]}" ] || { echo "director $role ($impl) did not start" >&2; return 1; }
}

alive() {
  local s
  [ -e "/proc/$1" ] || return 1
  s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$s" ] && [ "$s" != Z ]
}

# keepalived's VRRP child (the process that sends adverts).
ka_child() {
  local f=${DKA_VRRP_PIDFILE[$1]} p
  [ -s "$f" ] || return 1
  p=$(tr -dc 0-9 <"$f")
  [ -n "$p" ] && alive "$p" && echo "$p"
}

# director_signal ROLE KILL|TERM: a crash (KILL) or a graceful stop (TERM). For
# keepalived a crash is: stop the parent (so it cannot restart or signal its VRRP child),
# SIGKILL the child, SIGKILL the parent.
director_signal() {
  local role=$1 sig=$2 pid=${DPID[$1]} child
  if [ "${DIMPL[$role]}" = keepalived ] && [ "$sig" = KILL ]; then
    child=$(ka_child "$role") || child=
    kill -STOP "$pid" 2>/dev/null || true
    [ -n "$child" ] && kill -KILL "$child" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null || true
  else
    kill -"$sig" "$pid" 2>/dev/null || true
  fi
}

# director_reap ROLE [SIG]: waits (bounded, 10 s) for the director to exit, SIGKILLs it
# if it does not; sets REAP_STATUS to its exit status (128+N: killed by signal N);
# returns 1 if it had to be killed. Not in a subshell (wait needs this shell's children).
director_reap() {
  local role=$1 pid=${DPID[$1]:-} i rc=0 child=
  [ -n "${DWRAP[$role]:-}" ] || return 0
  [ "${DIMPL[$role]}" = keepalived ] && child=$(ka_child "$role" 2>/dev/null || true)
  [ -n "${2:-}" ] && [ -n "$pid" ] && director_signal "$role" "$2"
  for ((i = 0; i < 1000; i++)); do
    [ -n "$pid" ] && alive "$pid" || break
    sleep 0.01
  done
  if [ -n "$pid" ] && alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    rc=1
  fi
  if [ -n "$child" ]; then
    for ((i = 0; i < 500; i++)); do alive "$child" || break; sleep 0.01; done
    alive "$child" && { kill -KILL "$child" 2>/dev/null || true; rc=1; }
  fi
  for ((i = 0; i < 500; i++)); do alive "${DWRAP[$role]}" || break; sleep 0.01; done
  wait "${DWRAP[$role]}" 2>/dev/null || true
  REAP_STATUS=$(cat "${DSTATUS[$role]}" 2>/dev/null || echo unknown)
  unset "DPID[$role]" "DWRAP[$role]"
  return $rc
}

# State transitions logged since the director started, optionally only those into
# STATE (master|backup). ipvsd: `vrrp state changed ... to=master`; keepalived:
# `(VI_51) Entering MASTER STATE`.
transitions() {
  local role=$1 to=${2:-} log=${DLOG[$1]}
  [ -f "$log" ] || { echo 0; return; }
  if [ "${DIMPL[$role]}" = ipvsd ]; then
    grep -a 'vrrp state changed' "$log" | grep -ac "to=${to:-[a-z]}" || true
  else
    local up
    up=$(echo "${to:-[A-Z]*}" | tr a-z A-Z)
    grep -ac "Entering ${up} STATE" "$log" || true
  fi
}

# Client view: the neighbour entry of ADDR carries MAC.
client_neigh_is() {
  local out
  out=$(ip -n "$NS_C" neigh show "$1" dev eth0 2>/dev/null) || return 1
  [[ ${out,,} == *"lladdr ${2,,}"* ]]
}
client_ping() {
  ip netns exec "$NS_C" ping -n -q -c1 -W1 "$1" >/dev/null 2>&1
}
