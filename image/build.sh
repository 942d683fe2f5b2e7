#!/usr/bin/env bash
# Builds the flashable Raspberry Pi image (npm run image):
#
#   image/out/outpost-<version>-arm64.img.xz   the card image
#   image/out/outpost-<version>-arm64.img.xz.sha256
#   image/out/outpost-<version>-arm64.manifest  every Debian package and version in it
#
# In the manner of pi-gen: stage0 is a base Debian trixie arm64 system,
# stage1 makes it boot on a Raspberry Pi (kernel, firmware, config.txt),
# stage2 installs Outpost and its first boot; export-image/ lays out the
# card. Each stage is a folder of numbered steps, each step a 00-packages
# list and NN-run.sh scripts (see image/README.md).
#
# stage0, stage1 and stage2's Debian packages (stage2/00-deps) are cached
# under /var/cache/outpost-image (or OUTPOST_IMAGE_CACHE), keyed by their
# files, so a rebuild after a change to Outpost's code redoes only the rest
# of stage2. The arm64 node_modules are cached there too, keyed by
# package-lock.json.
#
# Needs root (chroot, loop devices are not used), Debian's mirror and npm's
# registry, and: mmdebstrap, qemu-user-static with binfmt_misc, dosfstools,
# mtools, e2fsprogs, fdisk (sfdisk), xz-utils, dpkg-dev, g++-aarch64-linux-gnu.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
. "$here/common.sh"

started=$(date +%s)
version="$(node -p 'require(process.argv[1]).version' "$repo/package.json")"
out="${OUTPOST_IMAGE_OUT:-$here/out}"
name="outpost-${version}-${ARCH}"

[ "$(id -u)" = 0 ] || { echo "image/build.sh: needs root (it builds a root file system with chroot); run it with sudo" >&2; exit 1; }
for tool in mmdebstrap mkfs.vfat mcopy mkfs.ext4 sfdisk xz dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "image/build.sh: $tool is missing; apt-get install mmdebstrap dosfstools mtools e2fsprogs fdisk xz-utils dpkg-dev" >&2; exit 1; }
done
# binfmt_misc must run arm64 programs for chroot to work (see common.sh).
if ! chroot_ok=$(arch-test "$ARCH" 2>&1); then
  echo "image/build.sh: this machine cannot run $ARCH programs ($chroot_ok)." >&2
  echo "  apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc" >&2
  exit 1
fi

mkdir -p "$CACHE" "$out"
# One build at a time per cache: a second one waits, then reuses the stages.
exec 9>"$CACHE/.lock"
flock 9

work="$(mktemp -d "${TMPDIR:-/var/tmp}/outpost-image.XXXXXX")"
ROOTFS_DIR="$work/rootfs"
cleanup() {
  chroot_leave "$ROOTFS_DIR" 2>/dev/null || true
  for d in "$work"/*/; do chroot_leave "${d%/}" 2>/dev/null || true; done
  if grep -q " $work/" /proc/mounts; then echo "image/build.sh: not deleting $work: still mounted" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- stage0: base system, by mmdebstrap --------------------------------------
key0=$(stage_key "$here/stage0" "")
stage0="$CACHE/stage0-$key0"
if [ ! -d "$stage0" ]; then
  log "stage0: building a $SUITE $ARCH base (cached as $(basename "$stage0"))"
  pkgs=$(cat "$here"/stage0/*/00-packages 2>/dev/null | sed -e 's/#.*//' | xargs | tr ' ' ',')
  rm -rf "$stage0.tmp"
  mmdebstrap --mode=root --variant=minbase --arch="$ARCH" --components="${COMPONENTS// /,}" \
    --include="$pkgs" "$SUITE" "$stage0.tmp" "$MIRROR" >&2
  ROOTFS_DIR="$stage0.tmp"
  chroot_enter "$ROOTFS_DIR"
  # The packages are in already; only the steps' scripts are left.
  SKIP_PACKAGES=1 run_stage "$here/stage0"
  chroot_leave "$ROOTFS_DIR"
  # Renamed into place only when complete: an interrupted build is redone.
  mv "$stage0.tmp" "$stage0"
fi

# --- stage1: boot on a Raspberry Pi ------------------------------------------
key1=$(stage_key "$here/stage1" "$key0")
stage1="$CACHE/stage1-$key1"
if [ ! -d "$stage1" ]; then
  log "stage1: kernel and firmware (cached as $(basename "$stage1"))"
  rm -rf "$stage1.tmp"
  cp -a "$stage0" "$stage1.tmp"
  ROOTFS_DIR="$stage1.tmp"
  chroot_enter "$ROOTFS_DIR"
  run_stage "$here/stage1"
  chroot_leave "$ROOTFS_DIR"
  mv "$stage1.tmp" "$stage1"
fi

# --- stage2/00-deps: Outpost's Debian packages, cached too -------------------
# They change rarely, and installing them under emulation takes a quarter
# of an hour or more; keyed by their list and stage1's key.
key2=$(stage_key "$here/stage2/00-deps" "$key1")
deps2="$CACHE/stage2-deps-$key2"
if [ ! -d "$deps2" ]; then
  log "stage2/00-deps: Outpost's dependencies from Debian (cached as $(basename "$deps2"))"
  rm -rf "$deps2.tmp"
  cp -a "$stage1" "$deps2.tmp"
  ROOTFS_DIR="$deps2.tmp"
  chroot_enter "$ROOTFS_DIR"
  install_packages "$here/stage2/00-deps/00-packages"
  chroot_leave "$ROOTFS_DIR"
  mv "$deps2.tmp" "$deps2"
fi
ROOTFS_DIR="$work/rootfs"

# --- stage2: Outpost (never cached: it is the code being built) -------------
log "stage2: Outpost $version"
cp -a "$deps2" "$ROOTFS_DIR"
chroot_enter "$ROOTFS_DIR"
SKIP_STEPS=00-deps REPO=$repo WORK=$work OUT_DIR=$out run_stage "$here/stage2"
chroot_leave "$ROOTFS_DIR"

# --- export: the card image ----------------------------------------------------
REPO=$repo WORK=$work OUT_DIR=$out NAME=$name . "$here/export-image/01-run.sh"

took=$(( $(date +%s) - started ))
log "done in $((took / 60)) min $((took % 60)) s"
