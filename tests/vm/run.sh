#!/usr/bin/env bash
# tests/vm/run.sh - run a test script inside a small qemu VM that boots a stock
# Debian kernel (the host kernel has no IPVS; the Debian one has it as modules).
#
#   tests/vm/run.sh [--timeout SECS] [--mem MB] SCRIPT [ARGS...]
#   tests/vm/run.sh --prepare
#
# The repository root is shared read-write into the guest over 9p and mounted
# at the same absolute path; the guest runs `bash SCRIPT ARGS...` from the
# repository root and run.sh exits with that script's status.
# See tests/vm/README.md.
set -Eeuo pipefail
trap 'echo "${0##*/}: error: line $LINENO: \"$BASH_COMMAND\" failed (status $?)" >&2' ERR

PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
# Optional: take the kernel (only the kernel) from another Debian suite, e.g. trixie.
SUITE=${IPVSD_VM_SUITE:-}
if [[ -n ${IPVSD_VM_CACHE:-} ]]; then
	CACHE=$IPVSD_VM_CACHE
elif [[ -n $SUITE ]]; then
	CACHE=$REPO/target/vm-$SUITE
else
	CACHE=$REPO/target/vm
fi
# Absolute: the initramfs build changes directory (a relative path would be doubled).
CACHE=$(realpath -m -- "$CACHE")
JOBS="$REPO/target/vm/jobs"
MOUNT_TAG=ipvsd

# Host packages the harness needs (the guest's tools are copied from the host).
PACKAGES=(qemu-system-x86 busybox-static kmod cpio ipvsadm iproute2 curl bash iptables keepalived)

# Kernel modules. Required ones fail the build when missing; optional ones are
# skipped with a note. Dependencies are resolved with modprobe --show-depends.
REQUIRED_MODULES=(virtio_pci 9pnet_virtio 9p ip_vs veth bridge)
OPTIONAL_MODULES=(
	ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_dh ip_vs_lc ip_vs_wlc ip_vs_sed ip_vs_nq
	ip_vs_mh ip_vs_fo ip_vs_ovf ip_vs_lblc ip_vs_lblcr ip_vs_twos ip_vs_ftp ip_vs_pe_sip
	macvlan dummy ipip ip6_tunnel ip6_gre tun ipv6 af_packet
	nf_conntrack nf_conntrack_netlink nf_nat
	x_tables ip_tables ip6_tables iptable_mangle iptable_filter iptable_nat
	ip6table_mangle ip6table_filter xt_mark xt_tcpudp xt_multiport xt_conntrack
	xt_comment xt_addrtype xt_MASQUERADE
)

usage() {
	cat <<EOF
usage: $PROG [--timeout SECS] [--mem MB] SCRIPT [ARGS...]
       $PROG --prepare

Boots a qemu VM (TCG) with the Debian kernel from linux-image-amd64, shares the
repository ($REPO) at the same path in the guest and runs
'bash SCRIPT ARGS...' there with the repository root as working directory.
Exits with the script's status (124 on timeout, 125 when the guest died without
reporting a status or the harness failed).

  --timeout SECS  kill the VM after SECS seconds (default 600)
  --mem MB        guest memory (default 1024)
  --prepare       only build/refresh the kernel+initramfs cache, print the kernel version

Environment: IPVSD_VM_CACHE (cache dir, default \$REPO/target/vm),
IPVSD_VM_SUITE=CODENAME (kernel from that Debian suite, e.g. trixie; own cache
\$REPO/target/vm-CODENAME and a private apt configuration in it),
IPVSD_VM_VERBOSE=1 (show kernel boot messages and init steps),
IPVSD_VM_APPEND="ARGS" (extra kernel command-line arguments),
IPVSD_VM_BOOT_TRIES=N (boots when the kernel dies before the job starts, default 3),
IPVSD_VM_BOOT_TIMEOUT=SECS (a boot that has not started the job by then is stopped
  and counts as a failed boot, default 180),
IPVSD_VM_EXTRA="prog ..." (extra host programs to put in the initramfs),
IPVSD_VM_ENV="VAR ..." (extra variables to forward to the guest script).
EOF
}

note() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 125
}

# ---------------------------------------------------------------- arguments
TIMEOUT=600
MEM=1024
PREPARE=0
while (($#)); do
	case $1 in
	--timeout) (($# >= 2)) || die "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	--mem) (($# >= 2)) || die "--mem needs a value"; MEM=$2; shift 2 ;;
	--mem=*) MEM=${1#*=}; shift ;;
	--prepare) PREPARE=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage >&2; die "unknown option: $1" ;;
	*) break ;;
	esac
done
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer (seconds)"
[[ $MEM =~ ^[1-9][0-9]*$ ]] || die "--mem must be a positive integer (MB)"
if ((PREPARE == 0)); then
	(($# >= 1)) || { usage >&2; exit 125; }
	SCRIPT=$1
	shift
	[[ -f $SCRIPT ]] || die "no such script: $SCRIPT"
fi
# The share and job paths travel on the kernel command line.
[[ $REPO != *[[:space:]]* ]] || die "the repository path must not contain white space: $REPO"
[[ -z $SUITE || $SUITE =~ ^[a-z][a-z0-9-]*$ ]] || die "IPVSD_VM_SUITE must be a Debian codename such as trixie, not '$SUITE'"

# ---------------------------------------------------------------- prerequisites
pkg_installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

install_prerequisites() {
	local p missing=() log
	for p in "${PACKAGES[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	[[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}); run as root or: apt-get install ${missing[*]}"
	note "installing ${missing[*]} (apt-get)"
	log=$(mktemp)
	if ! {
		DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
	} >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "apt-get install ${missing[*]} failed"
	fi
	rm -f "$log"
}

# ---------------------------------------------------------------- apt (kernel source)
# Options for apt-get/apt-cache: empty for the machine's own configuration; with
# IPVSD_VM_SUITE a private one under $CACHE/apt (the machine's /etc/apt is only read).
APT_OPTS=()
APT_DIR="$CACHE/apt"

# Echo "URI [signed-by]" of the machine's Debian archive for its own codename (the entry
# whose suite is the plain codename, not -updates/-security), from deb822 .sources files
# or one-line sources lists. No mirror is named in this repository.
host_archive() {
	local codename f
	codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d "\"'") || true
	[[ -n $codename ]] || return 1
	{
		for f in /etc/apt/sources.list.d/*.sources; do
			[[ -f $f ]] || continue
			awk -v cn="$codename" '
				function flush() {
					if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " cn " ") &&
						(" " comps " ") ~ / main / && uri != "" && !done) {
						print uri, signed
						done = 1
					}
					types = suites = comps = uri = signed = ""
				}
				/^[ \t]*#/ { next }
				/^[ \t]*$/ { flush(); next }
				/^[A-Za-z-]+:/ {
					key = tolower($1); sub(/:$/, "", key)
					val = $0; sub(/^[^:]*:[ \t]*/, "", val)
					if (key == "types") types = val
					else if (key == "suites") suites = val
					else if (key == "components") comps = val
					else if (key == "uris") { split(val, u, /[ \t]+/); uri = u[1] }
					else if (key == "signed-by" && val ~ /^\//) signed = val
					else if (key == "enabled" && tolower(val) == "no") types = ""
				}
				END { flush() }' "$f"
		done
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[[ -f $f ]] || continue
			awk -v cn="$codename" '
				$1 != "deb" { next }
				{
					signed = ""; i = 2
					if ($2 ~ /^\[/) {
						for (; i <= NF; i++) {
							if ($i ~ /^\[?signed-by=/) { signed = $i; sub(/^\[?signed-by=/, "", signed); sub(/\]$/, "", signed) }
							if ($i ~ /\]$/) { i++; break }
						}
					}
					if ($(i + 1) != cn) next
					for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i, signed; exit }
				}' "$f"
		done
	} | awk 'NF && !n++'
}

# With IPVSD_VM_SUITE: write the private apt configuration and set APT_OPTS.
setup_suite_apt() {
	local arch uri signed opts=''
	[[ -n $SUITE ]] || return 0
	arch=$(host_archive) || true
	read -r uri signed <<<"$arch"
	[[ -n $uri ]] || die "IPVSD_VM_SUITE=$SUITE: no Debian archive for this machine's codename with component main found in /etc/apt/sources.list or /etc/apt/sources.list.d/ (the mirror URI is taken from there)"
	[[ -n $signed ]] && opts="[signed-by=$signed] "
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
	printf 'deb %s%s %s main\n' "$opts" "$uri" "$SUITE" >"$APT_DIR/sources.list.new"
	if ! cmp -s "$APT_DIR/sources.list.new" "$APT_DIR/sources.list"; then
		mv -f "$APT_DIR/sources.list.new" "$APT_DIR/sources.list"
		rm -rf "$APT_DIR/lists" && mkdir -p "$APT_DIR/lists/partial"
	else
		rm -f "$APT_DIR/sources.list.new"
	fi
	APT_OPTS=(-o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache" -o APT::Sandbox::User=root)
}

# apt-get update of the kernel's source: quiet for the machine's own lists (best effort);
# for a suite the error is shown (an unreachable suite must not go unnoticed).
apt_update() {
	local out
	if [[ -z $SUITE ]]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
		return 0
	fi
	note "apt-get update for suite $SUITE ($(sed 's/^deb //' "$APT_DIR/sources.list"))"
	if ! out=$(DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" update -qq 2>&1) || [[ $out == *[EW]:* ]]; then
		printf '%s\n' "$out" >&2
		note "apt-get update for suite $SUITE failed or warned (see above)"
	fi
	return 0
}

# ---------------------------------------------------------------- kernel version
# Echo the versioned kernel package linux-image-amd64 depends on, e.g. 6.1.0-56-amd64.
resolve_kernel_version() {
	local deps alt
	deps=$(apt-cache "${APT_OPTS[@]}" show --no-all-versions linux-image-amd64 2>/dev/null | sed -n 's/^Depends: *//p' | head -n 1) || true
	if [[ -z $deps ]]; then
		apt_update
		deps=$(apt-cache "${APT_OPTS[@]}" show --no-all-versions linux-image-amd64 2>/dev/null | sed -n 's/^Depends: *//p' | head -n 1) || true
	fi
	for alt in $(tr ',|' '  ' <<<"$deps"); do
		if [[ $alt == linux-image-[0-9]* ]]; then
			printf '%s\n' "${alt#linux-image-}"
			return 0
		fi
	done
	return 1
}

# ---------------------------------------------------------------- guest init
# Written to /init in the initramfs. Runs as PID 1 under bash.
write_init() {
	cat >"$1" <<'INIT'
#!/bin/bash
# ipvsd test VM init (generated by tests/vm/run.sh; do not edit here)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/null >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /run/netns /var/run
hostname ipvsd-vm
echo # end the firmware's last console line

share='' job='' id='' verbose=0
read -r -a cmdline </proc/cmdline
for arg in "${cmdline[@]}"; do
	case $arg in
	ipvsd.share=*) share=${arg#*=} ;;
	ipvsd.job=*) job=${arg#*=} ;;
	ipvsd.id=*) id=${arg#*=} ;;
	ipvsd.verbose=1) verbose=1 ;;
	esac
done
say() { ((verbose)) && echo "vm-init: [$(cut -d" " -f1 /proc/uptime)] $*"; return 0; }

finish() {
	echo "IPVSD_VM_EXIT=$1 $id"
	sync
	poweroff -f
	sleep 5
	echo o >/proc/sysrq-trigger
}

say "loading 9p modules"
modprobe -a virtio_pci 9pnet_virtio 9p || { echo "vm-init: cannot load the 9p modules"; finish 125; }
mkdir -p "$share"
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 ipvsd "$share"; then
	echo "vm-init: cannot mount the 9p share at $share"
	finish 125
fi
say "loading modules"
mapfile -t modules </etc/ipvsd-vm/modules
if ! modprobe -a "${modules[@]}"; then
	for m in "${modules[@]}"; do
		modprobe "$m" || echo "vm-init: modprobe $m failed"
	done
fi
ip link set lo up

if [[ ! -f $job ]]; then
	echo "vm-init: job file $job not found in the share"
	finish 125
fi
say "running $job"
cd "$share" || finish 125
# Tells the host the test started: a kernel that dies before this was a boot failure.
: >"${job%.sh}.started" 2>/dev/null
bash "$job" </dev/null
rc=$?
cd /
echo "$rc" >"${job%.sh}.rc" 2>/dev/null
finish "$rc"
INIT
	chmod 755 "$1"
}

# ---------------------------------------------------------------- initramfs build
# Copy one host file to the same path under $ROOT (following symlinks).
copy_file() {
	local src=$1 dst="$ROOT$1"
	[[ -e $dst ]] && return 0
	mkdir -p "$(dirname "$dst")"
	cp -L "$src" "$dst"
}

declare -A SEEN_LIBS=()
# Copy an ELF file plus every library ldd lists for it.
copy_elf() {
	local f=$1 lib
	copy_file "$f"
	while read -r lib; do
		[[ -n $lib && -z ${SEEN_LIBS[$lib]:-} ]] || continue
		SEEN_LIBS[$lib]=1
		[[ -e $lib ]] && copy_file "$lib"
	done < <(ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true)
}

# Path of a host program; dies if absent.
host_prog() {
	local p
	p=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH command -v "$1") ||
		die "host program '$1' not found"
	printf '%s\n' "$p"
}

# Path of a shared library known to ldconfig (x86-64), empty if unknown.
host_lib() {
	# (no early exit from awk: with pipefail a SIGPIPE in ldconfig would fail the build)
	ldconfig -p | awk -v n="$1" '$1 == n && /x86-64/ && !found { print $NF; found = 1 }'
}

build_cache() {
	local kver=$1 stampval=$2 work deb kroot moddir m line p loadlist=() modfiles=() xtdir
	mkdir -p "$CACHE/debs"
	work=$(mktemp -d "$CACHE/build.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$work'" EXIT

	deb=$(find "$CACHE/debs" -maxdepth 1 -name "linux-image-${kver}_*.deb" -print -quit)
	if [[ -z $deb ]]; then
		note "downloading linux-image-$kver"
		rm -f "$CACHE"/debs/linux-image-*.deb
		if ! (cd "$CACHE/debs" && apt-get "${APT_OPTS[@]}" download -qq -o APT::Sandbox::User=root "linux-image-$kver") >"$work/apt.log" 2>&1; then
			apt_update
			(cd "$CACHE/debs" && apt-get "${APT_OPTS[@]}" download -qq -o APT::Sandbox::User=root "linux-image-$kver") >"$work/apt.log" 2>&1 ||
				{ cat "$work/apt.log" >&2; die "cannot download linux-image-$kver"; }
		fi
		deb=$(find "$CACHE/debs" -maxdepth 1 -name "linux-image-${kver}_*.deb" -print -quit)
		[[ -n $deb ]] || die "apt-get download did not produce linux-image-$kver"
	fi
	note "building initramfs for kernel $kver"
	kroot="$work/kernel"
	dpkg-deb -x "$deb" "$kroot"
	[[ -f $kroot/boot/vmlinuz-$kver ]] || die "no boot/vmlinuz-$kver in $deb"
	# Debian 13 packages ship the modules in /usr/lib/modules (merged /usr); kmod 30 looks
	# in /lib/modules.
	if [[ ! -d $kroot/lib/modules/$kver && -d $kroot/usr/lib/modules/$kver ]]; then
		mkdir -p "$kroot/lib/modules"
		mv "$kroot/usr/lib/modules/$kver" "$kroot/lib/modules/$kver"
	fi
	[[ -d $kroot/lib/modules/$kver ]] || die "no lib/modules/$kver in $deb"
	depmod -b "$kroot" "$kver"

	ROOT="$work/root"
	mkdir -p "$ROOT"/usr/{bin,sbin,lib,lib64} "$ROOT"/{dev,proc,sys,tmp,run,etc,root,mnt,var}
	ln -s usr/bin "$ROOT/bin"
	ln -s usr/sbin "$ROOT/sbin"
	ln -s usr/lib "$ROOT/lib"
	ln -s usr/lib64 "$ROOT/lib64"
	mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true
	mknod -m 666 "$ROOT/dev/null" c 1 3 2>/dev/null || true

	# --- kernel modules
	moddir="lib/modules/$kver"
	for m in "${REQUIRED_MODULES[@]}" "${OPTIONAL_MODULES[@]}"; do
		local deps
		if ! deps=$(modprobe -C /dev/null -d "$kroot" -S "$kver" --show-depends "$m" 2>/dev/null); then
			if [[ " ${REQUIRED_MODULES[*]} " == *" $m "* ]]; then
				die "required kernel module $m not found in kernel $kver"
			fi
			note "optional module $m not in kernel $kver, skipped"
			continue
		fi
		while read -r line; do
			case $line in
			insmod\ *)
				p=${line#insmod }
				p=${p%% *}
				modfiles+=("${p#"$kroot"/}")
				;;
			esac
		done <<<"$deps"
		[[ $deps == builtin\ * ]] || loadlist+=("$m")
	done
	for p in "${modfiles[@]}"; do
		[[ -e $ROOT/$p ]] && continue
		mkdir -p "$(dirname "$ROOT/$p")"
		cp "$kroot/$p" "$ROOT/$p"
	done
	# Compressed modules (Debian 13: .ko.xz): unpack them here, so loading in the guest
	# needs no decompression (kmod's or the kernel's) and is faster under TCG.
	while IFS= read -r -d '' p; do
		case $p in
		*.xz) xz -d -f "$p" ;;
		*.zst) zstd -d -q -f --rm "$p" ;;
		*.gz) gzip -d -f "$p" ;;
		esac
	done < <(find "$ROOT/lib/modules" -type f \( -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' \) -print0)
	for p in modules.order modules.builtin modules.builtin.modinfo; do
		[[ -e $kroot/$moddir/$p ]] && cp "$kroot/$moddir/$p" "$ROOT/$moddir/$p"
	done
	depmod -b "$ROOT" "$kver"
	mkdir -p "$ROOT/etc/ipvsd-vm" "$ROOT/etc/modprobe.d"
	printf '%s\n' "${loadlist[@]}" >"$ROOT/etc/ipvsd-vm/modules"
	echo "options dummy numdummies=0" >"$ROOT/etc/modprobe.d/ipvsd-vm.conf"

	# --- programs (real tools first, busybox applets fill the gaps)
	for p in bash ip ss bridge tc ipvsadm curl keepalived kmod xtables-legacy-multi setpriv; do
		line=$(host_prog "$p")
		copy_elf "$line"
	done
	# Extra programs or libraries: paths, library names (libfoo.so.N) or program names.
	for p in ${IPVSD_VM_EXTRA:-}; do
		if [[ $p == */* ]]; then
			[[ -f $p ]] || die "IPVSD_VM_EXTRA: no such file: $p"
			copy_elf "$(realpath "$p")"
		elif [[ $p == lib*.so* && -n $(host_lib "$p") ]]; then
			copy_elf "$(host_lib "$p")"
		else
			line=$(host_prog "$p")
			copy_elf "$line"
		fi
	done
	[[ -f /usr/bin/ldd ]] && copy_file /usr/bin/ldd
	for p in modprobe insmod rmmod lsmod modinfo depmod; do
		ln -sf /usr/bin/kmod "$ROOT/usr/sbin/$p"
	done
	# iptables: the legacy (x_tables) variant, with its dlopen()ed extensions.
	for p in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore \
		iptables-legacy iptables-legacy-save iptables-legacy-restore \
		ip6tables-legacy ip6tables-legacy-save ip6tables-legacy-restore; do
		ln -sf xtables-legacy-multi "$ROOT/usr/sbin/$p"
	done
	for xtdir in /usr/lib/x86_64-linux-gnu/xtables /usr/lib64/xtables /usr/lib/xtables; do
		[[ -d $xtdir ]] || continue
		for p in "$xtdir"/*.so; do copy_elf "$p"; done
		break
	done
	# Libraries that Rust/C test binaries built on the host need beyond the tools above.
	for p in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2 \
		librt.so.1 libutil.so.1 libresolv.so.2 libz.so.1; do
		line=$(host_lib "$p")
		if [[ -n $line ]]; then
			copy_file "$line"
		elif [[ $p == libgcc_s.so.1 ]]; then
			die "libgcc_s.so.1 not found on the host (install libgcc-s1)"
		fi
	done
	[[ -e $ROOT/lib64/ld-linux-x86-64.so.2 ]] || die "dynamic loader missing from the initramfs"
	line=$(host_prog busybox)
	copy_file "$line"
	[[ -x $ROOT/usr/bin/busybox ]] || cp -L "$line" "$ROOT/usr/bin/busybox"
	while read -r p; do
		[[ $p == */* ]] || continue
		m=${p##*/}
		[[ -e $ROOT/usr/bin/$m || -L $ROOT/usr/bin/$m || -e $ROOT/usr/sbin/$m || -L $ROOT/usr/sbin/$m ]] && continue
		case $p in
		bin/* | usr/bin/*) ln -s /usr/bin/busybox "$ROOT/usr/bin/$m" ;;
		*) ln -s /usr/bin/busybox "$ROOT/usr/sbin/$m" ;;
		esac
	done < <("$ROOT/usr/bin/busybox" --list-full)

	# --- configuration files
	cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
	cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
	cat >"$ROOT/etc/hosts" <<'EOF'
127.0.0.1	localhost ipvsd-vm
::1	localhost ip6-localhost ip6-loopback
EOF
	printf '%s\n' "passwd: files" "group: files" "hosts: files" "services: files" "protocols: files" \
		>"$ROOT/etc/nsswitch.conf"
	for p in /etc/protocols /etc/services /etc/ethertypes; do
		[[ -f $p ]] && cp "$p" "$ROOT$p"
	done
	for p in /etc/iproute2 /usr/share/iproute2; do
		[[ -d $p ]] && mkdir -p "$ROOT$(dirname "$p")" && cp -a "$p" "$ROOT$p"
	done
	mkdir -p "$ROOT/etc/keepalived"
	write_init "$ROOT/init"

	# --- pack
	# Uncompressed: under TCG unpacking is faster than gunzip and the boot is ~0.6 s shorter.
	(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$work/initrd.cpio"
	cp "$kroot/boot/vmlinuz-$kver" "$work/vmlinuz"
	mv -f "$work/vmlinuz" "$CACHE/vmlinuz"
	mv -f "$work/initrd.cpio" "$CACHE/initrd.cpio"
	printf '%s\n' "$stampval" >"$CACHE/stamp"
	rm -rf "$work"
	trap - EXIT
}

# Bring the cache up to date; sets KVER.
prepare_cache() {
	local stampval
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
	setup_suite_apt
	if ! KVER=$(resolve_kernel_version); then
		KVER=$(sed -n 's/^kernel=//p' "$CACHE/stamp" 2>/dev/null) || true
		[[ -n $KVER && -f $CACHE/initrd.cpio && -f $CACHE/vmlinuz ]] ||
			die "cannot resolve the kernel version from linux-image-amd64${SUITE:+ of suite $SUITE} (apt-cache show linux-image-amd64${SUITE:+ with the private apt configuration in $APT_DIR})"
		note "cannot resolve linux-image-amd64${SUITE:+ of suite $SUITE}; using the cached kernel $KVER"
		exec 9>&-
		return 0
	fi
	stampval=$(
		echo "kernel=$KVER"
		echo "harness=$(sha256sum <"$SELF" | cut -d' ' -f1)"
		echo "extra=${IPVSD_VM_EXTRA:-}"
		echo "suite=$SUITE"
		dpkg-query -W "${PACKAGES[@]}" libc6 libgcc-s1 2>/dev/null | tr '\t' '=' || true
	)
	if [[ ! -f $CACHE/initrd.cpio || ! -f $CACHE/vmlinuz || $(cat "$CACHE/stamp" 2>/dev/null) != "$stampval" ]]; then
		local t0=$SECONDS
		build_cache "$KVER" "$stampval"
		note "cache ready in $((SECONDS - t0))s: $CACHE ($(du -h "$CACHE/initrd.cpio" | cut -f1) initramfs)"
	fi
	exec 9>&-
}

# ---------------------------------------------------------------- main
install_prerequisites
prepare_cache
if ((PREPARE)); then
	echo "$KVER"
	exit 0
fi

mkdir -p "$JOBS"
ID="$(date +%Y%m%d-%H%M%S)-$$-$RANDOM"
JOB="$JOBS/$ID.sh"
TMP=$(mktemp -d)
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	if [[ -n ${QPID:-} ]]; then kill "$QPID" 2>/dev/null || true; fi
	rm -rf "$TMP"
	rm -f "$JOB" "$JOBS/$ID.rc" "$JOBS/$ID.script" "$JOBS/$ID.started"
}
trap cleanup EXIT
trap 'note "interrupted"; exit 130' INT
trap 'note "terminated"; exit 143' TERM

# The script must be reachable from the guest: anything outside the repository
# is copied next to the job file.
script_abs=$(realpath "$SCRIPT")
if [[ $script_abs != "$REPO"/* ]]; then
	cp "$script_abs" "$JOBS/$ID.script"
	script_abs="$JOBS/$ID.script"
fi
{
	echo "# ipvsd VM job $ID (generated by tests/vm/run.sh)"
	echo "cd $(printf '%q' "$REPO") || exit 125"
	for v in $(compgen -v); do
		case $v in
		IPVSD_VM_*) continue ;;
		IPVSD_* | RUST_LOG | RUST_BACKTRACE) ;;
		*) [[ " ${IPVSD_VM_ENV:-} " == *" $v "* ]] || continue ;;
		esac
		[[ -v $v ]] && printf 'export %s=%q\n' "$v" "${!v}"
	done
	printf 'exec bash %q' "$script_abs"
	(($#)) && printf ' %q' "$@"
	echo
} >"$JOB"

APPEND="console=ttyS0 panic=-1 ipvsd.share=$REPO ipvsd.job=$JOB ipvsd.id=$ID${IPVSD_VM_APPEND:+ $IPVSD_VM_APPEND}"
VERBOSE=${IPVSD_VM_VERBOSE:-0}
if [[ $VERBOSE == 1 ]]; then
	APPEND+=" ipvsd.verbose=1"
else
	APPEND+=" quiet loglevel=3"
fi

# boot_once: one boot of the VM running the job; sets GUEST_RC (empty if none came
# back), QRC and ELAPSED.
boot_once() {
	note "booting kernel $KVER (tcg, ${MEM} MB, timeout ${TIMEOUT}s): $SCRIPT$( (($#)) && printf ' %q' "$@")"
	rm -f "$TMP/console"
	mkfifo "$TMP/console"
	LOG="$TMP/console.log"
	T0=$SECONDS
	# qboot (shipped with qemu) boots -kernel as fast as SeaBIOS and prints nothing.
	FIRMWARE=()
	[[ -f /usr/share/qemu/qboot.rom ]] && FIRMWARE=(-bios qboot.rom)
	# -cpu max: under TCG module loading is ~3x faster than with the default qemu64.
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max "${FIRMWARE[@]}" -m "$MEM" -smp 2 \
		-nographic -no-reboot -nic none \
		-kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.cpio" -append "$APPEND" \
		-virtfs "local,path=$REPO,mount_tag=$MOUNT_TAG,security_model=none,multidevs=remap" \
		</dev/null >"$TMP/console" 2>&1 &
	QPID=$!
	# Boot watchdog: a VM whose job has not started after BOOT_TIMEOUT seconds is hung in
	# boot (seen once under TCG: no console output at all for 600 s); stop it, and the
	# loop below boots again.
	rm -f "$TMP/boot-hung"
	(
		for ((w = 0; w < BOOT_TIMEOUT; w++)); do
			sleep 1
			[[ -f $JOBS/$ID.started ]] && exit 0
			kill -0 "$QPID" 2>/dev/null || exit 0
		done
		: >"$TMP/boot-hung"
		kill -TERM "$QPID" 2>/dev/null
	) &
	WATCHDOG=$!

	# Stream the console: strip CRs and terminal escapes, hide the exit marker.
	GUEST_RC=''
	SEEN_OUTPUT=0
	MARKER_RE="IPVSD_VM_EXIT=([0-9]+) $ID\$"
	NOISE_RE='^(SeaBIOS \(version .*|Booting from ROM\.*|\[ *[0-9.]+\] reboot: Power down)$'

	ESC_RE=$'\e''(\[[0-9;?]*[A-Za-z]|[c()][0-9A-Za-z]?)'
	exec 4>"$LOG"
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line//$'\r'/}
		printf '%s\n' "$line" >&4
		while [[ $line =~ $ESC_RE ]]; do line=${line/"${BASH_REMATCH[0]}"/}; done
		if [[ $line =~ $MARKER_RE ]]; then
			GUEST_RC=${BASH_REMATCH[1]}
			continue
		fi
		[[ $VERBOSE == 0 && $line =~ $NOISE_RE ]] && continue
		line=${line#Booting from ROM..}
		[[ -z $line && $SEEN_OUTPUT == 0 ]] && continue
		SEEN_OUTPUT=1
		printf '%s\n' "$line"
	done <"$TMP/console"
	exec 4>&-
	QRC=0
	wait "$QPID" || QRC=$?
	QPID=''
	kill "$WATCHDOG" 2>/dev/null || true
	wait "$WATCHDOG" 2>/dev/null || true
	ELAPSED=$((SECONDS - T0))
}

# A kernel that dies before the job starts (seen: the 6.12 kernel under TCG, an int3 oops
# in early boot, now and then), or that has not started the job after BOOT_TIMEOUT
# seconds (seen once: no console output at all), is a boot failure, not the test's: boot
# again, up to BOOT_TRIES times in all. A failure after the job started is reported as it is.
BOOT_TRIES=${IPVSD_VM_BOOT_TRIES:-3}
BOOT_TIMEOUT=${IPVSD_VM_BOOT_TIMEOUT:-180}
((BOOT_TIMEOUT < TIMEOUT)) || BOOT_TIMEOUT=$TIMEOUT
for ((try = 1; ; try++)); do
	boot_once "$@"
	[[ -n $GUEST_RC || -f $JOBS/$ID.rc || -f $JOBS/$ID.started ]] && break
	[[ -f $TMP/boot-hung ]] || { ((QRC == 124 || QRC == 137)) && break; }
	((try < BOOT_TRIES)) || break
	cp "$LOG" "$JOBS/$ID.boot$try.console.log" 2>/dev/null || true
	why="the kernel stopped before the job started"
	[[ -f $TMP/boot-hung ]] && why="the job had not started after ${BOOT_TIMEOUT}s"
	note "$why (boot failure, console log: $JOBS/$ID.boot$try.console.log); booting again ($((try + 1))/$BOOT_TRIES)"
done

if [[ -z $GUEST_RC && -f $JOBS/$ID.rc ]]; then
	GUEST_RC=$(tr -dc 0-9 <"$JOBS/$ID.rc")
	[[ -n $GUEST_RC ]] && note "exit marker missing from the console; using the status file"
fi
if [[ -n $GUEST_RC ]]; then
	note "guest script exited with status $GUEST_RC (${ELAPSED}s)"
	exit "$GUEST_RC"
fi
cp "$LOG" "$JOBS/$ID.console.log" 2>/dev/null || true
if ((QRC == 124 || QRC == 137)); then
	note "TIMEOUT: the guest did not finish within ${TIMEOUT}s; qemu killed (console log: $JOBS/$ID.console.log)"
	exit 124
fi
if [[ -f $TMP/boot-hung ]]; then
	note "FAILED: the job had not started after ${BOOT_TIMEOUT}s in any of $BOOT_TRIES boots; console log: $JOBS/$ID.console.log"
	exit 125
fi
note "FAILED: the VM stopped without reporting an exit status (kernel panic or init failure?); qemu status $QRC; console log: $JOBS/$ID.console.log"
exit 125
