# Configures raspi-firmware's hook (Debian's way, so a kernel update on the
# box rewrites the boot files the same way) and runs it once.

# ROOTPART: the root by label, so the card boots whatever the kernel names
# the SD card. CONSOLES: the Pi 3/4/Zero 2 W's serial pins (ttyS1, the
# mini UART under Debian's upstream device trees) for someone debugging
# with a cable, and the HDMI screen last, which gets the boot messages.
# CMA stays at the hook's default (64M on the Pi 3 and Zero 2 W, the
# firmware's own on the Pi 4 family, where setting it breaks the boot).
cat >"${ROOTFS_DIR}/etc/default/raspi-firmware" <<'CONF'
# Set by the Outpost image build (image/stage1/01-firmware/01-run.sh).
ROOTPART=LABEL=OUTPOST_ROOT
CONSOLES="ttyS1,115200 tty0"
CONF

# Lines appended to config.txt. No screen is needed to run the box:
# - the GPU gets its minimum memory (16 MB), leaving the rest to Outpost,
#   which matters on the 512 MB Zero 2 W and the 1 GB Pi 3;
# - no rainbow splash: the boot is a few tenths of a second faster;
# - the on-board audio is off, as nothing plays sound.
cat >"${ROOTFS_DIR}/etc/default/raspi-firmware-custom" <<'CONF'
gpu_mem=16
disable_splash=1
dtparam=audio=off
CONF

# Rerun now that the configuration is in place (the kernel's install ran the
# hook with the defaults). In a chroot the hook skips its mount check.
echo 'DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware' | on_chroot
