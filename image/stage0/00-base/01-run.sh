# Host side: apt's sources, the identity a fresh box must not share, and
# the build-time guard against services starting in the chroot.

# deb822 sources with the security and point-release updates, so that
# `apt upgrade` on a box that meets the Internet gets fixes.
rm -f "${ROOTFS_DIR}/etc/apt/sources.list"
cat >"${ROOTFS_DIR}/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: ${MIRROR}
Suites: ${SUITE} ${SUITE}-updates
Components: ${COMPONENTS}
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.debian.org/debian-security
Suites: ${SUITE}-security
Components: ${COMPONENTS}
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC

# Services started by a package's postinst inside the chroot would outlive
# it; removed again by the export step, so the box starts them normally.
install -m 0755 /dev/stdin "${ROOTFS_DIR}/usr/sbin/policy-rc.d" <<'POL'
#!/bin/sh
exit 101
POL

# Every box gets its own machine id at first boot (systemd writes one
# when the file is empty); a shared id would confuse DHCP servers, which
# derive the client id from it.
: >"${ROOTFS_DIR}/etc/machine-id"
rm -f "${ROOTFS_DIR}/var/lib/dbus/machine-id"

# The host name until first boot sets the one from outpost-setup.txt.
echo outpost >"${ROOTFS_DIR}/etc/hostname"
cat >"${ROOTFS_DIR}/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
127.0.1.1	outpost
::1		localhost ip6-localhost ip6-loopback
HOSTS

# Both file systems by label (FAT labels have at most 11 characters), so the same card boots as /dev/mmcblk0 on a
# Pi and as /dev/vda in the emulator. noatime spares the SD card a write
# per read. The FAT partition is where the owner edits outpost-setup.txt;
# fsck at boot (pass 2) repairs it after a card was pulled from a laptop
# without ejecting.
cat >"${ROOTFS_DIR}/etc/fstab" <<'FSTAB'
LABEL=OUTPOST_ROOT  /              ext4  defaults,noatime,commit=30  0  1
LABEL=OUTPOSTBOOT  /boot/firmware vfat  defaults,noatime,umask=0077  0  2
FSTAB
install -d "${ROOTFS_DIR}/boot/firmware"
