# Shared by image/build.sh and the stage scripts (sourced, not run). The
# names follow pi-gen: ROOTFS_DIR is the arm64 root being built, on_chroot
# runs a shell script inside it, STAGE_DIR the stage being run.
#
# Running arm64 code on the amd64 build machine: qemu-user-static with the
# kernel's binfmt_misc, registered with the F (fix binary) flag, so the
# emulator is opened once by the kernel and a plain `chroot` runs arm64
# programs without a copy of qemu inside the root. It is several times faster
# than proot (which traps every system call through ptrace), and it is what
# mmdebstrap's root mode uses as well. build.sh checks for it first and says
# what to do where the kernel lacks binfmt_misc.

SUITE=${OUTPOST_IMAGE_SUITE:-trixie}
ARCH=arm64
MIRROR=${OUTPOST_IMAGE_MIRROR:-http://deb.debian.org/debian}
# raspi-firmware and firmware-brcm80211 (the Pi's Wi-Fi) are in
# non-free-firmware; everything else is in main.
COMPONENTS="main non-free-firmware"
# Cached stage roots, outside the clone: a rebuild after a code change
# reuses stage0 and stage1 and only redoes stage2.
CACHE=${OUTPOST_IMAGE_CACHE:-/var/cache/outpost-image}

log() { printf '[image %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Mounts what programs in the root expect (/proc for dpkg and npm, /dev for
# /dev/null and /dev/urandom, /sys for udev's postinst) and the host's
# resolver and CA bundle for apt and npm. The CA bundle matters where the
# registry is reached through a TLS-inspecting proxy; the root's own bundle
# is put back by chroot_leave.
chroot_enter() {
  local r=$1
  mount -t proc proc "$r/proc"
  mount --rbind /dev "$r/dev"
  mount --make-rslave "$r/dev"
  mount -t sysfs sysfs "$r/sys"
  if [ -e "$r/etc/resolv.conf" ] || [ -L "$r/etc/resolv.conf" ]; then mv "$r/etc/resolv.conf" "$r/etc/resolv.conf.outpost-build"; fi
  cp /etc/resolv.conf "$r/etc/resolv.conf"
}

chroot_leave() {
  local r=$1
  umount -R "$r/dev" 2>/dev/null || umount -l "$r/dev" 2>/dev/null || true
  umount "$r/proc" "$r/sys" 2>/dev/null || true
  rm -f "$r/etc/resolv.conf"
  if [ -e "$r/etc/resolv.conf.outpost-build" ] || [ -L "$r/etc/resolv.conf.outpost-build" ]; then mv "$r/etc/resolv.conf.outpost-build" "$r/etc/resolv.conf"; fi
}

# pi-gen's on_chroot: the script on stdin runs as root inside the root,
# with a clean environment and no service started by a package's postinst
# (policy-rc.d, put in place by stage0).
on_chroot() {
  chroot "$ROOTFS_DIR" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@" /bin/sh -e
}

# Installs a step's 00-packages (one or more names a line, # comments) with
# apt, without recommends: every package in the image is named somewhere.
install_packages() {
  local list=$1 pkgs
  pkgs=$(sed -e 's/#.*//' "$list" | xargs)
  [ -n "$pkgs" ] || return 0
  log "apt-get install $pkgs"
  echo "apt-get update -q && apt-get install -y -q --no-install-recommends $pkgs && apt-get clean" | on_chroot
}

# Runs one stage's numbered steps in order: each step's 00-packages, then
# its *-run.sh scripts (host side, with ROOTFS_DIR set; they call on_chroot
# for what must run inside).
run_stage() {
  local stage=$1 step s
  export STAGE_DIR=$stage ROOTFS_DIR
  for step in "$stage"/[0-9][0-9]-*/; do
    step=${step%/}
    # SKIP_STEPS: steps already done in a cached root (build.sh).
    case " ${SKIP_STEPS:-} " in *" $(basename "$step") "*) continue ;; esac
    log "$(basename "$stage")/$(basename "$step")"
    if [ -z "${SKIP_PACKAGES:-}" ] && [ -f "$step/00-packages" ]; then install_packages "$step/00-packages"; fi
    for s in "$step"/[0-9][0-9]-run.sh; do
      [ -e "$s" ] || continue
      (cd "$step" && STEP_DIR=$step . "$s")
    done
  done
}

# A stage's cache key: the suite, mirror and architecture, the key of the
# stage below, and every file of the stage (its package lists and scripts),
# so a changed list or step rebuilds that stage and those above.
stage_key() {
  local stage=$1 below=$2
  { printf '%s\n' "$SUITE" "$MIRROR" "$ARCH" "$COMPONENTS" "$below"; (cd "$stage" && find . -type f -print0 | sort -z | xargs -0 sha256sum); } | sha256sum | cut -c1-16
}
