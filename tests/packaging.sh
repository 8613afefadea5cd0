#!/usr/bin/env bash
# Builds the .deb and .rpm with packaging/build.sh, inspects them, and installs the .deb on
# this machine:
#
#   sudo tests/packaging.sh
#
# - every man page renders without a groff warning, the bash completion completes;
# - the .deb holds the binary, the unit, the config (a conffile, 0640), gzipped man pages,
#   the completions and the docs; Depends names only the C runtime; the maintainer scripts
#   are there and parse;
# - the .rpm holds the same (the config %config(noreplace) root:ipvsd 0640, man pages
#   uncompressed), its scriptlets parse, create the user and set /etc/ipvsd root:ipvsd
#   0750, and its binary runs;
# - `dpkg -i` on this machine (no systemd running: the scripts must cope): the binary, the
#   config valid and readable by the ipvsd user only, the user, the man pages (`man -w`),
#   the completion, the unit enabled and accepted by `systemd-analyze verify` with its
#   Documentation= pages now installed; a changed config survives a reinstall; `dpkg -r`
#   keeps the config, `dpkg -P` removes it and every trace but the user.
# The machine is left as found: the package is purged (also on failure) and the ipvsd
# user and group removed if this script created them. It refuses to run where an ipvsd
# package is already installed. Needs root and apt-get (it installs rpm, cpio, dpkg-dev,
# man-db, systemd when missing).
#
# Prints `ok - ...` / `not ok - ...` and `packaging: N passed, M failed`; exit 0 only if
# nothing failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
REPO=$(pwd)
OUT=$REPO/target/packaging
VERSION=$(sed -nE 's/^version = "([^"]+)"/\1/p' Cargo.toml | head -n 1)
WORK=$(mktemp -d)
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND...: ok if the command succeeds, else not ok with its output.
check() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what: $(head -c 600 <<<"$out")"; fi
}
summary() {
  echo "packaging: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

installed_by_us=0 user_created=0 group_created=0
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  if [ "$installed_by_us" = 1 ] && dpkg-query -W ipvsd >/dev/null 2>&1; then
    dpkg --purge ipvsd >/dev/null 2>&1 || echo "# cleanup: dpkg --purge ipvsd failed" >&2
  fi
  if [ "$user_created" = 1 ] && getent passwd ipvsd >/dev/null; then userdel ipvsd; fi
  if [ "$group_created" = 1 ] && getent group ipvsd >/dev/null; then groupdel ipvsd; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
  not_ok "runs as root (installs packages)"
  summary
fi

# --- tools -----------------------------------------------------------------------------
missing=()
command -v rpm >/dev/null 2>&1 || missing+=(rpm)
command -v rpm2cpio >/dev/null 2>&1 || missing+=(rpm2cpio)
command -v cpio >/dev/null 2>&1 || missing+=(cpio)
command -v dpkg-shlibdeps >/dev/null 2>&1 || missing+=(dpkg-dev)
command -v man >/dev/null 2>&1 || missing+=(man-db)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "# installing ${missing[*]}" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

# --- build -----------------------------------------------------------------------------
if paths=$(bash packaging/build.sh 2>"$WORK/build.log"); then
  ok "packaging/build.sh built the packages"
else
  not_ok "packaging/build.sh failed: $(tail -n 20 "$WORK/build.log")"
  summary
fi
DEB=$(sed -n 1p <<<"$paths")
RPM=$(sed -n 2p <<<"$paths")
arch=$(dpkg --print-architecture)
if [ "$DEB" = "$OUT/ipvsd_${VERSION}-1_${arch}.deb" ] && [ -f "$DEB" ]; then
  ok "the .deb is $DEB ($(du -k "$DEB" | cut -f1) KiB)"
else
  not_ok "the .deb is $OUT/ipvsd_${VERSION}-1_${arch}.deb (build.sh printed '$DEB')"
fi
if [[ "$RPM" == "$OUT/ipvsd-${VERSION}-1."*.rpm ]] && [ -f "$RPM" ]; then
  ok "the .rpm is $RPM ($(du -k "$RPM" | cut -f1) KiB)"
else
  not_ok "the .rpm is $OUT/ipvsd-${VERSION}-1.ARCH.rpm (build.sh printed '$RPM')"
fi
if [ ! -f "$DEB" ] || [ ! -f "$RPM" ]; then summary; fi

# --- generated man pages and completions -----------------------------------------------
pages=()
for f in "$OUT"/man/*; do pages+=("$(basename "$f")"); done
commands=$("${CARGO_TARGET_DIR:-$REPO/target}/release/ipvsd" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} /^$/ {on = 0}' | grep -vx help)
want_pages=(ipvsd.8 ipvsd.yaml.5 ipvsd-realserver-setup.8 ipvsd-realserver-teardown.8)
for c in $commands; do want_pages+=("ipvsd-$c.8"); done
for p in "${want_pages[@]}"; do
  if [ -f "$OUT/man/$p" ]; then ok "man page $p generated"; else not_ok "man page $p generated (have: ${pages[*]})"; fi
done
for p in "${pages[@]}"; do
  for width in 80 100; do
    warnings=$(MANWIDTH=$width man -l --warnings "$OUT/man/$p" 2>&1 >/dev/null)
    if [ -z "$warnings" ]; then
      ok "man -l --warnings $p (width $width): no warning"
    else
      not_ok "man -l --warnings $p (width $width): $(head -n 5 <<<"$warnings")"
    fi
  done
done
# The rendered config reference has its tables (tbl ran) and no markdown left.
text=$(MANWIDTH=100 man -l "$OUT/man/ipvsd.yaml.5" 2>/dev/null)
if grep -q '│ scheduler *│' <<<"$text" && ! grep -qE '\*\*|\]\(#|^ *\| ---' <<<"$text"; then
  ok "ipvsd.yaml(5) renders the config tables with tbl, no markdown left"
else
  not_ok "ipvsd.yaml(5) renders the config tables with tbl, no markdown left"
fi
for c in $commands; do
  grep -q "ipvsd-$c(8)" < <(MANWIDTH=100 man -l "$OUT/man/ipvsd.8" 2>/dev/null) || {
    not_ok "ipvsd(8) lists ipvsd-$c(8)"
    continue
  }
  ok "ipvsd(8) lists ipvsd-$c(8)"
done

# Bash completion: complete `ipvsd che` and `ipvsd run --dr`.
complete_words() { # WORDS...: what the completion offers for the last word
  bash --norc --noprofile -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _ipvsd ipvsd "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$OUT/completions/ipvsd.bash" "$@" 2>&1
}
got=$(complete_words ipvsd che)
if [ "$got" = check-config ]; then ok "bash completion: ipvsd che<TAB> -> check-config"; else not_ok "bash completion: ipvsd che<TAB> gave '$got'"; fi
got=$(complete_words ipvsd run --dr)
if [ "$got" = --dry-run ]; then ok "bash completion: ipvsd run --dr<TAB> -> --dry-run"; else not_ok "bash completion: ipvsd run --dr<TAB> gave '$got'"; fi
if grep -q 'check-config' "$OUT/completions/_ipvsd" && grep -q '^#compdef ipvsd' <<<"$(head -n 1 "$OUT/completions/_ipvsd")"; then
  ok "zsh completion: #compdef ipvsd, knows check-config"
else
  not_ok "zsh completion: #compdef ipvsd, knows check-config"
fi
if grep -q "complete -c ipvsd .*check-config" "$OUT/completions/ipvsd.fish"; then
  ok "fish completion knows check-config"
else
  not_ok "fish completion knows check-config"
fi

# --- the .deb --------------------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}' | sed 's# \./# /#' >"$WORK/deb.list"
# has MODE OWNER PATH: the .deb lists PATH with that mode and owner.
deb_has() {
  if grep -qxF -- "$1 $2 $3" "$WORK/deb.list"; then
    ok ".deb: $3 ($1 $2)"
  else
    not_ok ".deb: $3 ($1 $2); the .deb has: $(grep -F " $3" "$WORK/deb.list" | head -n 3)"
  fi
}
deb_has -rwxr-xr-x 0/0 /usr/sbin/ipvsd
deb_has -rw-r--r-- 0/0 /usr/lib/systemd/system/ipvsd.service
deb_has -rw-r----- 0/0 /etc/ipvsd/ipvsd.yaml
for p in "${pages[@]}"; do
  deb_has -rw-r--r-- 0/0 "/usr/share/man/man${p##*.}/$p.gz"
done
deb_has -rw-r--r-- 0/0 /usr/share/bash-completion/completions/ipvsd
deb_has -rw-r--r-- 0/0 /usr/share/zsh/vendor-completions/_ipvsd
deb_has -rw-r--r-- 0/0 /usr/share/fish/vendor_completions.d/ipvsd.fish
for d in README.md changelog.gz config.md admin-api.md metrics.md prometheus/alerts.yml grafana/ipvsd.json copyright; do
  deb_has -rw-r--r-- 0/0 "/usr/share/doc/ipvsd/$d"
done
if grep -qE '/usr/share/man/.*[0-9]$' "$WORK/deb.list"; then
  not_ok ".deb: no uncompressed man page ($(grep -E '/usr/share/man/.*[0-9]$' "$WORK/deb.list" | head -n 2))"
else
  ok ".deb: no uncompressed man page"
fi
# The binary in the .deb is stripped and is the one built.
mkdir -p "$WORK/deb"
dpkg-deb -x "$DEB" "$WORK/deb"
if [[ $(file "$WORK/deb/usr/sbin/ipvsd") == *', stripped'* ]]; then ok ".deb: the binary is stripped"; else not_ok ".deb: the binary is stripped: $(file "$WORK/deb/usr/sbin/ipvsd")"; fi
check ".deb: the gzipped ipvsd.yaml.5 is the generated page" cmp <(gzip -dc "$WORK/deb/usr/share/man/man5/ipvsd.yaml.5.gz") "$OUT/man/ipvsd.yaml.5"
check ".deb: the config is conf/ipvsd.yaml" cmp "$WORK/deb/etc/ipvsd/ipvsd.yaml" conf/ipvsd.yaml

field() { dpkg-deb -f "$DEB" "$1"; }
if [ "$(field Package)" = ipvsd ] && [ "$(field Version)" = "$VERSION-1" ] && [ "$(field Architecture)" = "$arch" ]; then
  ok ".deb: Package ipvsd, Version $VERSION-1, Architecture $arch"
else
  not_ok ".deb: Package/Version/Architecture: $(field Package) $(field Version) $(field Architecture)"
fi
depends=$(field Depends)
others=$(tr ',' '\n' <<<"$depends" | sed -E 's/^ *([^ ]+).*/\1/' | grep -vxE 'libc6|libgcc-s1' || true)
if grep -q 'libc6' <<<"$depends" && [ -z "$others" ]; then
  ok ".deb: Depends only on the C runtime ($depends)"
else
  not_ok ".deb: Depends only on the C runtime ($depends)"
fi
if [ "$(field Suggests)" = ipvsadm ] && [ -z "$(field Recommends)" ]; then
  ok ".deb: Suggests ipvsadm, Recommends nothing"
else
  not_ok ".deb: Suggests '$(field Suggests)', Recommends '$(field Recommends)'"
fi
if [ "$(dpkg-deb -I "$DEB" conffiles 2>/dev/null)" = /etc/ipvsd/ipvsd.yaml ]; then
  ok ".deb: conffiles is /etc/ipvsd/ipvsd.yaml"
else
  not_ok ".deb: conffiles is /etc/ipvsd/ipvsd.yaml (got: $(dpkg-deb -I "$DEB" conffiles 2>&1))"
fi
for s in postinst prerm postrm; do
  if dpkg-deb -I "$DEB" "$s" >"$WORK/$s" 2>/dev/null && cmp -s "$WORK/$s" "packaging/debian/$s" && sh -n "$WORK/$s"; then
    ok ".deb: $s is packaging/debian/$s and parses"
  else
    not_ok ".deb: $s is packaging/debian/$s and parses"
  fi
done

# --- the .rpm --------------------------------------------------------------------------
rpmq() { rpm -qp --nosignature "$@" "$RPM" 2>/dev/null; }
if [ "$(rpmq --qf '%{NAME} %{VERSION} %{RELEASE}')" = "ipvsd $VERSION 1" ]; then
  ok ".rpm: ipvsd $VERSION release 1 ($(rpmq --qf '%{ARCH}'))"
else
  not_ok ".rpm: name/version/release: $(rpmq --qf '%{NAME} %{VERSION} %{RELEASE}')"
fi
rpmq --qf '[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILENAMES}\n]' >"$WORK/rpm.list"
rpmq -l >"$WORK/rpm.files"
rpm_has() { # MODE OWNER PATH
  if grep -qxF -- "$1 $2 $3" "$WORK/rpm.list" && grep -qxF -- "$3" "$WORK/rpm.files"; then
    ok ".rpm: $3 ($1 $2)"
  else
    not_ok ".rpm: $3 ($1 $2); the .rpm has: $(grep -F " $3" "$WORK/rpm.list" | head -n 3)"
  fi
}
rpm_has -rwxr-xr-x root/root /usr/sbin/ipvsd
rpm_has -rw-r--r-- root/root /usr/lib/systemd/system/ipvsd.service
rpm_has -rw-r----- root/ipvsd /etc/ipvsd/ipvsd.yaml
for p in "${pages[@]}"; do
  rpm_has -rw-r--r-- root/root "/usr/share/man/man${p##*.}/$p"
done
rpm_has -rw-r--r-- root/root /usr/share/bash-completion/completions/ipvsd
rpm_has -rw-r--r-- root/root /usr/share/zsh/site-functions/_ipvsd
rpm_has -rw-r--r-- root/root /usr/share/fish/vendor_completions.d/ipvsd.fish
for d in README.md CHANGELOG.md config.md admin-api.md metrics.md prometheus/alerts.yml grafana/ipvsd.json; do
  rpm_has -rw-r--r-- root/root "/usr/share/doc/ipvsd/$d"
done
if [ "$(rpmq --configfiles)" = /etc/ipvsd/ipvsd.yaml ]; then
  ok ".rpm: the config file is /etc/ipvsd/ipvsd.yaml"
else
  not_ok ".rpm: --configfiles is /etc/ipvsd/ipvsd.yaml (got: $(rpmq --configfiles))"
fi
flags=$(rpmq --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' | awk '$1 == "/etc/ipvsd/ipvsd.yaml" {print $2}')
if [ "$flags" = cn ]; then
  ok ".rpm: /etc/ipvsd/ipvsd.yaml is %config(noreplace)"
else
  not_ok ".rpm: /etc/ipvsd/ipvsd.yaml is %config(noreplace) (flags '$flags')"
fi
requires=$(rpmq --requires | grep -vE '^(rpmlib\(|/bin/sh|ld-linux|libc\.so|libgcc_s\.so|libm\.so|rtld\(|config\(ipvsd\))' || true)
if [ -z "$requires" ]; then
  ok ".rpm: requires only the C runtime and /bin/sh"
else
  not_ok ".rpm: requires more than the C runtime: $requires"
fi
if [ "$(rpmq --suggests)" = ipvsadm ]; then ok ".rpm: suggests ipvsadm"; else not_ok ".rpm: suggests ipvsadm (got: $(rpmq --suggests))"; fi
# Scriptlets: the user before the files, the systemd calls after; each parses.
rpmq --qf '%{PREIN}' >"$WORK/rpm.pre"
rpmq --qf '%{POSTIN}' >"$WORK/rpm.post"
rpmq --qf '%{PREUN}' >"$WORK/rpm.preun"
rpmq --qf '%{POSTUN}' >"$WORK/rpm.postun"
for s in pre post preun postun; do
  if cmp -s "$WORK/rpm.$s" "packaging/rpm/$s.sh" && sh -n "$WORK/rpm.$s"; then
    ok ".rpm: %$s is packaging/rpm/$s.sh and parses"
  else
    not_ok ".rpm: %$s is packaging/rpm/$s.sh and parses"
  fi
done
if grep -q 'useradd --system' "$WORK/rpm.pre" && grep -q 'systemctl --no-reload preset' "$WORK/rpm.post" &&
  grep -q 'chgrp ipvsd /etc/ipvsd && chmod 0750 /etc/ipvsd' "$WORK/rpm.post" &&
  ! grep -qE 'systemctl .*(start|enable)' "$WORK/rpm.post"; then
  ok ".rpm: %pre creates the ipvsd user, %post makes /etc/ipvsd root:ipvsd 0750 and applies the presets (no start)"
else
  not_ok ".rpm: %pre creates the ipvsd user, %post makes /etc/ipvsd root:ipvsd 0750 and applies the presets (no start)"
fi
# The payload unpacks and its binary runs.
# rpm2cpio (Debian's, 4.18) exits 1 after writing a zstd payload whole, so its status is
# not used: the digests are checked by rpm -K, the archive by cpio.
check ".rpm: header and payload digests verify (rpm -K)" rpm -K --nosignature "$RPM"
mkdir -p "$WORK/rpm"
rpm2cpio "$RPM" >"$WORK/payload.cpio" 2>/dev/null
got=
unpacked=$(cd "$WORK/rpm" && cpio -idm --quiet <"$WORK/payload.cpio" 2>&1) &&
  got=$("$WORK/rpm/usr/sbin/ipvsd" --version 2>&1)
if [ "$got" = "ipvsd $VERSION" ]; then
  ok ".rpm: the payload unpacks and its ipvsd --version says ipvsd $VERSION"
else
  not_ok ".rpm: the payload unpacks and its ipvsd --version says ipvsd $VERSION: $got $unpacked"
fi
if [[ $(file "$WORK/rpm/usr/sbin/ipvsd") == *', stripped'* ]]; then ok ".rpm: the binary is stripped"; else not_ok ".rpm: the binary is stripped: $(file "$WORK/rpm/usr/sbin/ipvsd")"; fi

# --- install the .deb here -------------------------------------------------------------
# One install test at a time on this machine.
mkdir -p /run/lock
exec 9>/run/lock/ipvsd-packaging-test.lock
flock 9
status=$(dpkg-query -W -f '${Status}' ipvsd 2>/dev/null || true)
if [ -n "$status" ] && [ "$status" != "unknown ok not-installed" ]; then
  not_ok "ipvsd is not installed on this machine before the test (dpkg: $status); install tests not run"
  summary
fi
getent passwd ipvsd >/dev/null || user_created=1
getent group ipvsd >/dev/null || group_created=1
if [ -e /etc/ipvsd ]; then
  not_ok "/etc/ipvsd does not exist before the test; install tests not run"
  summary
fi
installed_by_us=1
if out=$(dpkg -i "$DEB" 2>&1); then
  ok "dpkg -i $(basename "$DEB") (no systemd running)"
else
  not_ok "dpkg -i $(basename "$DEB"): $out"
  summary
fi
if grep -qi 'warning\|error' <<<"$out"; then
  not_ok "dpkg -i printed: $(grep -i 'warning\|error' <<<"$out")"
else
  ok "dpkg -i printed no warning or error"
fi

got=$(/usr/sbin/ipvsd --version 2>&1)
if [ "$got" = "ipvsd $VERSION" ]; then ok "/usr/sbin/ipvsd --version: $got"; else not_ok "/usr/sbin/ipvsd --version: $got"; fi
check "ipvsd check-config /etc/ipvsd/ipvsd.yaml passes" /usr/sbin/ipvsd check-config /etc/ipvsd/ipvsd.yaml
pw=$(getent passwd ipvsd)
if [ -n "$pw" ] && [ "$(cut -d: -f6,7 <<<"$pw")" = /nonexistent:/usr/sbin/nologin ] && [ "$(cut -d: -f3 <<<"$pw")" -lt 1000 ]; then
  ok "system user ipvsd exists ($pw)"
else
  not_ok "system user ipvsd exists with home /nonexistent and shell nologin ($pw)"
fi
got=$(stat -c '%U:%G %a' /etc/ipvsd /etc/ipvsd/ipvsd.yaml 2>&1 | tr '\n' ' ')
if [ "$got" = "root:ipvsd 750 root:ipvsd 640 " ]; then ok "/etc/ipvsd root:ipvsd 750, ipvsd.yaml root:ipvsd 640"; else not_ok "/etc/ipvsd and ipvsd.yaml permissions: $got"; fi
check "the ipvsd user can read the config (check-config as ipvsd)" runuser -u ipvsd -- /usr/sbin/ipvsd check-config /etc/ipvsd/ipvsd.yaml
if runuser -u nobody -- cat /etc/ipvsd/ipvsd.yaml >/dev/null 2>&1; then
  not_ok "another user (nobody) cannot read the config"
else
  ok "another user (nobody) cannot read the config"
fi
got=$(man -w ipvsd 2>&1)
if [ "$got" = /usr/share/man/man8/ipvsd.8.gz ]; then ok "man -w ipvsd: $got"; else not_ok "man -w ipvsd: $got"; fi
got=$(man -w 5 ipvsd.yaml 2>&1)
if [ "$got" = /usr/share/man/man5/ipvsd.yaml.5.gz ]; then ok "man -w 5 ipvsd.yaml: $got"; else not_ok "man -w 5 ipvsd.yaml: $got"; fi
got=$(man -w ipvsd-run 2>&1)
if [ "$got" = /usr/share/man/man8/ipvsd-run.8.gz ]; then ok "man -w ipvsd-run: $got"; else not_ok "man -w ipvsd-run: $got"; fi
warnings=$(MANWIDTH=80 man --warnings ipvsd.yaml 2>&1 >/dev/null)
if [ -z "$warnings" ]; then ok "man ipvsd.yaml renders the installed page without warnings"; else not_ok "man ipvsd.yaml: $warnings"; fi
if [ -f /usr/share/bash-completion/completions/ipvsd ] && cmp -s /usr/share/bash-completion/completions/ipvsd "$OUT/completions/ipvsd.bash"; then
  ok "bash completion installed in /usr/share/bash-completion/completions/ipvsd"
else
  not_ok "bash completion installed in /usr/share/bash-completion/completions/ipvsd"
fi
link=/etc/systemd/system/multi-user.target.wants/ipvsd.service
if [ "$(readlink "$link")" = /lib/systemd/system/ipvsd.service ] || [ "$(readlink "$link")" = /usr/lib/systemd/system/ipvsd.service ]; then
  ok "ipvsd.service enabled on install ($link)"
else
  not_ok "ipvsd.service enabled on install ($link -> $(readlink "$link"))"
fi
# The installed unit passes verify with its Documentation= pages installed.
if out=$(systemd-analyze verify /usr/lib/systemd/system/ipvsd.service 2>&1) && [ -z "$out" ]; then
  ok "systemd-analyze verify of the installed unit: no complaint"
else
  not_ok "systemd-analyze verify of the installed unit: $out"
fi

# A changed config survives a reinstall (a conffile), with its permissions.
echo "# changed by tests/packaging.sh" >>/etc/ipvsd/ipvsd.yaml
if out=$(dpkg -i "$DEB" 2>&1) && [[ $(tail -n 1 /etc/ipvsd/ipvsd.yaml) == *'changed by tests/packaging.sh'* ]] &&
  [ "$(stat -c '%U:%G %a' /etc/ipvsd/ipvsd.yaml)" = "root:ipvsd 640" ]; then
  ok "reinstall keeps the changed config and its permissions"
else
  not_ok "reinstall keeps the changed config and its permissions: $out"
fi

# Remove: no binary, no pages; the config stays.
check "dpkg -r ipvsd" dpkg -r ipvsd
if [ ! -e /usr/sbin/ipvsd ] && [ ! -e /usr/share/man/man8/ipvsd.8.gz ] && [ ! -e /usr/lib/systemd/system/ipvsd.service ]; then
  ok "after remove: no binary, man page or unit"
else
  not_ok "after remove: no binary, man page or unit"
fi
if [ -f /etc/ipvsd/ipvsd.yaml ] && [ "$(dpkg-query -W -f '${Status}' ipvsd 2>/dev/null)" = "deinstall ok config-files" ]; then
  ok "after remove: the config stays (config-files)"
else
  not_ok "after remove: the config stays (config-files)"
fi
if [ "$(readlink /etc/systemd/system/ipvsd.service)" = /dev/null ]; then
  ok "after remove: ipvsd.service is masked until purge"
else
  not_ok "after remove: ipvsd.service is masked until purge ($(ls -l /etc/systemd/system/ipvsd.service 2>&1))"
fi
# Purge: the config, the overrides, the enablement and the state (the kept drains, which
# the daemon writes under systemd's StateDirectory) go; the user stays.
mkdir -p /var/lib/ipvsd
printf '# ipvsd: real servers drained by the operator (ipvsd drain)\n' >/var/lib/ipvsd/drains
check "dpkg -P ipvsd" dpkg -P ipvsd
leftovers=$(
  [ -e /etc/ipvsd ] && echo /etc/ipvsd
  [ -e /var/lib/ipvsd ] && echo /var/lib/ipvsd
  dpkg-statoverride --list | grep -F /etc/ipvsd
  find /etc/systemd/system -name 'ipvsd.service' 2>/dev/null
  find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
    -name '*ipvsd*' 2>/dev/null
  dpkg-query -W ipvsd 2>/dev/null
)
if [ -z "$leftovers" ]; then ok "after purge: no config, state, override, unit link or dpkg record left"; else not_ok "after purge, left: $leftovers"; fi
if getent passwd ipvsd >/dev/null; then
  ok "after purge: the ipvsd system user stays (Debian practice)"
else
  not_ok "after purge: the ipvsd system user stays"
fi
installed_by_us=0

summary
