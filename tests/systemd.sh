#!/usr/bin/env bash
# Checks packaging/systemd/ipvsd.service:
#
#   tests/systemd.sh
#
# - `systemd-analyze verify` accepts it (with the binary path pointed at the build, since
#   verify requires the executables to exist, and MANPATH at the man pages the binary
#   generates, since verify looks up the unit's Documentation=man:ipvsd(8) and
#   man:ipvsd.yaml(5) pages; systemd-analyze and man are installed with apt-get when
#   missing, which needs root);
# - it is a Type=notify unit with a watchdog, ExecReload runs `ipvsd reload`, it runs as a
#   dedicated user with exactly CAP_NET_ADMIN and CAP_NET_RAW (ambient and bounding), no
#   new privileges, and the hardening options that leave those working.
# The notify protocol itself (READY/WATCHDOG/RELOADING/STOPPING) is tested by
# tests/systemd_notify.rs against the daemon.
#
# Prints `ok - ...` / `not ok - ...` and `systemd: N passed, M failed`; exit 0 only if
# nothing failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
REPO=$(pwd)
UNIT=packaging/systemd/ipvsd.service
IPVSD=${IPVSD:-$REPO/target/debug/ipvsd}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
# prop KEY VALUE: the unit sets KEY=VALUE (the last assignment wins, as in systemd).
prop() {
  local got
  got=$(grep -E "^$1=" "$UNIT" | tail -n 1 | cut -d= -f2-)
  if [ "$got" = "$2" ]; then ok "$1=$2"; else not_ok "$1=$2 (the unit has '${got}')"; fi
}

missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v man >/dev/null 2>&1 || missing+=(man-db)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "# installing ${missing[*]} (for systemd-analyze verify)" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
if [ ! -x "$IPVSD" ]; then cargo build -q || true; fi

if ! command -v systemd-analyze >/dev/null 2>&1; then
  not_ok "systemd-analyze is available (apt-get install systemd failed)"
elif [ ! -x "$IPVSD" ]; then
  not_ok "$IPVSD is built"
else
  sed "s#/usr/sbin/ipvsd#$IPVSD#g" "$UNIT" >"$WORK/ipvsd.service"
  # The Documentation= pages, as the packages install them (man8/, man5/).
  mkdir -p "$WORK/man/man8" "$WORK/man/man5"
  if "$IPVSD" generate man "$WORK/man" >/dev/null; then
    mv "$WORK"/man/*.8 "$WORK/man/man8/" && mv "$WORK"/man/*.5 "$WORK/man/man5/"
  fi
  for page in "8 ipvsd" "5 ipvsd.yaml"; do
    # shellcheck disable=SC2086
    if MANPATH=$WORK/man man -w $page >/dev/null 2>&1; then
      ok "man page ${page#* }(${page% *}) generated for Documentation="
    else
      not_ok "man page ${page#* }(${page% *}) generated for Documentation="
    fi
  done
  if out=$(MANPATH=$WORK/man systemd-analyze verify "$WORK/ipvsd.service" 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify: no complaint"
  else
    not_ok "systemd-analyze verify: $out"
  fi
  # The commands the unit runs are real ipvsd commands (parsed by the binary's clap).
  for cmd in "check-config --help" "run --help" "reload --help"; do
    # shellcheck disable=SC2086
    if "$IPVSD" $cmd >/dev/null 2>&1; then ok "ipvsd $cmd"; else not_ok "ipvsd $cmd"; fi
  done
fi

prop Type notify
prop NotifyAccess main
prop WatchdogSec 30s
prop ExecStart "/usr/sbin/ipvsd run --config /etc/ipvsd/ipvsd.yaml"
prop ExecReload "/usr/sbin/ipvsd reload --config /etc/ipvsd/ipvsd.yaml"
prop User ipvsd
prop AmbientCapabilities "CAP_NET_ADMIN CAP_NET_RAW"
prop CapabilityBoundingSet "CAP_NET_ADMIN CAP_NET_RAW"
prop NoNewPrivileges yes
prop ProtectSystem strict
prop StateDirectory ipvsd
prop RuntimeDirectory ipvsd
prop RuntimeDirectoryMode 0750
prop RestrictAddressFamilies "AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET"
# Hardening that would break a director must stay off: no PrivateNetwork (it would hide
# the host's interfaces and IPVS), no IPAddressDeny.
for k in PrivateNetwork IPAddressDeny; do
  if grep -qE "^$k=" "$UNIT"; then not_ok "$k is not set"; else ok "$k is not set"; fi
done

echo "systemd: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
