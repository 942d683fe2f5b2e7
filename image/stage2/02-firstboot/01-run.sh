# First boot, as systemd units (see the files for why each does what):
# outpost-grow-root.service once, outpost-setup.service at every boot, and
# outpost-ready.service, which tells the LED when the node answers.
install -D -m 0755 files/outpost-grow-root "${ROOTFS_DIR}/usr/lib/outpost-image/outpost-grow-root"
install -D -m 0755 files/outpost-apply-setup "${ROOTFS_DIR}/usr/lib/outpost-image/outpost-apply-setup"
install -D -m 0644 files/outpost-wait-ready.mjs "${ROOTFS_DIR}/usr/lib/outpost-image/outpost-wait-ready.mjs"
for unit in outpost-grow-root.service outpost-setup.service outpost-ready.service; do
  install -D -m 0644 "files/$unit" "${ROOTFS_DIR}/usr/lib/systemd/system/$unit"
done
install -D -m 0644 files/20-outpost-led.conf "${ROOTFS_DIR}/etc/systemd/system/outpost-appliance.service.d/20-outpost-led.conf"
install -D -m 0644 files/20-outpost-start.conf "${ROOTFS_DIR}/etc/systemd/system/outpost.service.d/20-outpost-start.conf"
for unit in outpost.service outpost-hotspot.service outpost-appliance.service; do
  install -D -m 0644 files/10-outpost-setup.conf "${ROOTFS_DIR}/etc/systemd/system/${unit}.d/10-outpost-setup.conf"
done

# SSH is off until outpost-setup.txt gives a key, and no host key is
# shared by every card made from this image (outpost-apply-setup makes them).
rm -f "${ROOTFS_DIR}"/etc/ssh/ssh_host_*
# Root has no password: the console asks for one nobody has, and SSH takes
# keys only (Debian's default PermitRootLogin prohibit-password).
echo 'passwd -l root
systemctl enable outpost-grow-root.service outpost-setup.service outpost-ready.service
systemctl disable ssh.service ssh.socket 2>/dev/null || true' | on_chroot

# The settings file as the owner finds it on a fresh card, rendered by the
# same code that reads it.
echo 'node --input-type=module -e "import(\"/usr/lib/outpost/dist/server/appliance/setup-file.js\").then((m) => process.stdout.write(m.renderSetupTemplate()))" >/boot/firmware/outpost-setup.txt' | on_chroot
