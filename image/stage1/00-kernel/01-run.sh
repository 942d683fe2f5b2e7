# The initrd must find the root on whatever machine boots the card:
# MODULES=most (initramfs-tools' default, said here because `dep` would
# take only the modules of the build machine) brings the Pi's SD card
# controller (sdhci-iproc, mmc) and the emulator's virtio disk alike.
# zstd: the smallest initrd that the Debian kernel unpacks quickly, read
# by the Pi's firmware from FAT at boot.
install -D -m 0644 /dev/stdin "${ROOTFS_DIR}/etc/initramfs-tools/conf.d/outpost.conf" <<'CONF'
MODULES=most
COMPRESS=zstd
CONF
