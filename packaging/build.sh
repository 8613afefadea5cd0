#!/usr/bin/env bash
# Builds the ipvsd packages:
#
#   packaging/build.sh
#
# 1. installs cargo-deb and cargo-generate-rpm (the pinned versions below) with
#    `cargo install --locked` unless those versions are on the PATH already;
# 2. builds the release binary (`cargo build --release --locked`);
# 3. has it write the man pages and bash, zsh and fish completions into
#    target/packaging/man/ and target/packaging/completions/ (`ipvsd generate`);
# 4. builds target/packaging/ipvsd_VERSION-1_ARCH.deb (cargo-deb, which strips the binary
#    and gzips the man pages) and target/packaging/ipvsd-VERSION-1.ARCH.rpm
#    (cargo-generate-rpm, from a stripped copy of the binary);
# 5. prints the two packages' paths, one per line, on stdout (the rest goes to stderr).
#
# What goes where is in Cargo.toml ([package.metadata.deb], [package.metadata.generate-rpm]);
# the maintainer scripts are in packaging/debian/ and packaging/rpm/. cargo-deb computes
# the .deb's Depends with dpkg-shlibdeps (Debian's dpkg-dev package).
set -euo pipefail

CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1

cd "$(dirname "$0")/.."
REPO=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
OUT=$REPO/target/packaging

log() { echo "build.sh: $*" >&2; }

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi

# tool SUBCOMMAND CRATE VERSION: `cargo SUBCOMMAND` of exactly that version, installed if not.
tool() {
  local sub=$1 crate=$2 version=$3 have
  have=$(cargo "$sub" --version 2>/dev/null || true)
  if [[ "$have" != *" $version"* ]]; then
    log "installing $crate $version${have:+ (found: $have)}"
    cargo install --locked --quiet "$crate" --version "$version" >&2
  fi
}
tool deb cargo-deb "$CARGO_DEB_VERSION"
tool generate-rpm cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION"

log "cargo build --release"
cargo build --release --locked >&2
BIN=$TARGET_DIR/release/ipvsd

rm -rf "$OUT"
mkdir -p "$OUT/man" "$OUT/completions"
"$BIN" generate man "$OUT/man" >/dev/null
for shell in bash zsh fish; do
  "$BIN" generate completions "$shell" "$OUT/completions" >/dev/null
done
log "man pages: $(cd "$OUT/man" && echo *)"
log "completions: $(cd "$OUT/completions" && echo *)"

log "cargo deb"
cargo deb --no-build --locked --output "$OUT/" >&2

# cargo-generate-rpm packs target/release/ipvsd as it is: give it a stripped copy, in a
# target directory of its own so the build's binary stays untouched.
mkdir -p "$OUT/rpm-target/release"
strip --strip-unneeded -o "$OUT/rpm-target/release/ipvsd" "$BIN"
log "cargo generate-rpm"
cargo generate-rpm --target-dir "$OUT/rpm-target" --output "$OUT/" >&2

shopt -s nullglob
debs=("$OUT"/ipvsd_*.deb)
rpms=("$OUT"/ipvsd-*.rpm)
if [ "${#debs[@]}" -ne 1 ] || [ "${#rpms[@]}" -ne 1 ]; then
  log "expected one .deb and one .rpm in $OUT, found: ${debs[*]} ${rpms[*]}"
  exit 1
fi
echo "${debs[0]}"
echo "${rpms[0]}"
