# Wired networking with systemd-networkd (part of systemd, nothing more to
# install): DHCP on any Ethernet port, so a box plugged into a router can
# reach the Internet, and so the emulator's user-mode network works. The
# Wi-Fi is not here: it is the hotspot, configured by outpost-hotspot.service.
install -D -m 0644 /dev/stdin "${ROOTFS_DIR}/etc/systemd/network/20-wired.network" <<'NET'
[Match]
Type=ether
Name=e*

[Network]
DHCP=yes
# The box must come up without any network; the node does not wait for one.
[Link]
RequiredForOnline=no
NET
echo "systemctl enable systemd-networkd.service systemd-timesyncd.service" | on_chroot
