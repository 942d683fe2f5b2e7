# Lays out the card (sourced by build.sh, with ROOTFS_DIR the finished
# root), without loop devices or mounts, so it works in a container:
#
#   sector 8192 (4 MiB): FAT32 "OUTPOSTBOOT", 256 MiB: the Pi's firmware,
#                        kernel, initrd, device trees, config.txt,
#                        cmdline.txt and outpost-setup.txt
#   then:                ext4 "OUTPOST_ROOT": the root, grown to the whole
#                        card at first boot
#
# MBR, not GPT: the Pi 3's boot ROM reads only MBR. The 4 MiB start aligns
# the partitions to SD cards' erase blocks.

# Build-time leftovers: the guard against services starting, apt's lists
# (100 MB, fetched again by `apt update` on a box that meets the Internet)
# and the build's resolver.
rm -f "${ROOTFS_DIR}/usr/sbin/policy-rc.d"
rm -rf "${ROOTFS_DIR}"/var/lib/apt/lists/* "${ROOTFS_DIR}"/var/cache/apt/*.bin "${ROOTFS_DIR}"/var/cache/apt/archives/*.deb
rm -f "${ROOTFS_DIR}"/var/log/*.log "${ROOTFS_DIR}"/var/log/apt/*
: >"${ROOTFS_DIR}/etc/resolv.conf"

# The manifest: every package and version, read with the host's dpkg from
# the root's database. Two builds of one commit from one cache have the same.
manifest="$OUT_DIR/$NAME.manifest"
dpkg-query --admindir="${ROOTFS_DIR}/var/lib/dpkg" -W -f '${Package}\t${Version}\t${Architecture}\n' | sort >"$manifest"

# A static check of the Pi's boot path before anything is written: the
# files the firmware loads are there and config.txt names a kernel and an
# initrd that exist (the emulator boots another way and cannot prove this).
bash "$REPO/image/check-boot-files.sh" "${ROOTFS_DIR}/boot/firmware"

boot_mib=256
img="$WORK/$NAME.img"
boot_img="$WORK/boot.vfat"
root_img="$WORK/root.ext4"

# The FAT partition, filled with mtools (no mount needed).
mkfs.vfat -F 32 -n OUTPOSTBOOT -C "$boot_img" $((boot_mib * 1024)) >/dev/null
mcopy -s -m -i "$boot_img" "${ROOTFS_DIR}"/boot/firmware/* ::/

# The root, without the FAT partition's files (/boot/firmware is its mount
# point). Sized to what it holds plus a fifth: first boot grows it to the
# card, and a small image writes faster.
mv "${ROOTFS_DIR}/boot/firmware" "$WORK/firmware"
install -d "${ROOTFS_DIR}/boot/firmware"
root_mib=$(( $(du -sm "${ROOTFS_DIR}" | cut -f1) * 12 / 10 + 64 ))
# -d copies the tree into the new file system (no mount); 4 KiB blocks
# and no reserved blocks for root (the node runs as outpost and must be
# able to fill the card's free space with mail; it warns before that).
mkfs.ext4 -q -L OUTPOST_ROOT -m 0 -b 4096 -E root_owner=0:0 -d "${ROOTFS_DIR}" "$root_img" "${root_mib}M"
rmdir "${ROOTFS_DIR}/boot/firmware"
mv "$WORK/firmware" "${ROOTFS_DIR}/boot/firmware"

start=8192
boot_sectors=$((boot_mib * 2048))
root_start=$((start + boot_sectors))
root_sectors=$((root_mib * 2048))
truncate -s $(( (root_start + root_sectors) * 512 )) "$img"
sfdisk --quiet "$img" <<PARTS
label: dos
${start},${boot_sectors},c,*
${root_start},${root_sectors},83
PARTS
dd if="$boot_img" of="$img" bs=1M seek=$((start / 2048)) conv=notrunc,fsync status=none
dd if="$root_img" of="$img" bs=1M seek=$((root_start / 2048)) conv=notrunc,fsync status=none
rm -f "$boot_img" "$root_img"

log "compressing $(basename "$img") with xz"
# -T0: every core. Level 3 by default keeps a rebuild within minutes on a
# small build machine; OUTPOST_IMAGE_XZ=9 makes the smallest download for a
# release, for many more minutes.
xz -T0 "-${OUTPOST_IMAGE_XZ:-3}" -f -c "$img" >"$OUT_DIR/$NAME.img.xz.tmp"
mv "$OUT_DIR/$NAME.img.xz.tmp" "$OUT_DIR/$NAME.img.xz"
(cd "$OUT_DIR" && sha256sum "$NAME.img.xz" >"$NAME.img.xz.sha256")
raw=$(stat -c %s "$img")
packed=$(stat -c %s "$OUT_DIR/$NAME.img.xz")
log "image: $OUT_DIR/$NAME.img.xz"
log "size: $((packed / 1048576)) MiB compressed, $((raw / 1048576)) MiB uncompressed; $(wc -l <"$manifest") packages ($manifest)"
# The raw image too, when asked for (the boot test uses it without unpacking).
if [ -n "${OUTPOST_IMAGE_KEEP_RAW:-}" ]; then mv "$img" "$OUT_DIR/$NAME.img"; fi
