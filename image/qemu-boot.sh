#!/usr/bin/env bash
# Boots the Outpost card image in an emulated arm64 machine, the way anyone
# can try it without a Raspberry Pi:
#
#   image/qemu-boot.sh IMAGE [--forward HOSTPORT:GUESTPORT]... [--setup FILE]
#                            [--size SIZE] [--memory MB] [--log FILE]
#                            [--qmp SOCKET] [--radios N]
#
#   IMAGE        outpost-<version>-arm64.img (booted in place: it is written
#                to, like a card) or .img.xz (unpacked beside it first)
#   --forward    a TCP port of the box reachable at 127.0.0.1:HOSTPORT
#                (e.g. --forward 8443:443 --forward 1587:587 --forward 1143:143)
#   --setup      put FILE on the boot partition as outpost-setup.txt first,
#                as an owner would before the first boot
#   --size       grow the image file to SIZE first (default 4G), standing in
#                for a bigger card, so the first boot has a file system to grow
#   --memory     the machine's memory in MB (default 1024, a Pi 3's)
#   --log        write the serial console to FILE instead of the terminal
#   --qmp        open qemu's monitor (QMP) on the unix SOCKET, through which
#                a USB stick (a disk image) is plugged into the machine's
#                USB port (xhci.0) and pulled again, as the appliance test does
#   --radios     how many virtual Wi-Fi radios (default 1: the Pi's own; the
#                appliance test adds a second one for a "phone")
#
# qemu's virt machine is not a Pi: its firmware path (bootcode.bin,
# config.txt, device trees) cannot run here, so this loads the same Debian
# kernel and initrd that config.txt names straight from the boot partition
# (image/check-boot-files.sh checks the Pi's path statically). Everything
# after the kernel is the image's own: the initrd finds the root by its
# label, systemd runs the first boot, the node starts. The Wi-Fi chip is
# stood in for by mac80211_hwsim, a virtual radio of Debian's kernel, so
# hostapd and dnsmasq start on a wlan0 as on a Pi.
#
# Needs: qemu-system-arm (qemu-system-aarch64), mtools, fdisk (sfdisk),
# xz-utils. Software emulation (TCG): a first boot takes minutes.
set -euo pipefail

usage() { sed -n '3,24p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
image=$1; shift
forwards=() setup='' size=4G memory=1024 logfile='' qmp='' radios=1
while [ $# -gt 0 ]; do
  case "$1" in
    --forward) [[ ${2:-} =~ ^[0-9]+:[0-9]+$ ]] || { echo "qemu-boot.sh: --forward takes HOSTPORT:GUESTPORT, like 8443:443" >&2; exit 2; }
      forwards+=("$2"); shift 2 ;;
    --setup) setup=${2:?--setup FILE}; shift 2 ;;
    --size) size=${2:?--size SIZE}; shift 2 ;;
    --memory) memory=${2:?--memory MB}; shift 2 ;;
    --log) logfile=${2:?--log FILE}; shift 2 ;;
    --qmp) qmp=${2:?--qmp SOCKET}; shift 2 ;;
    --radios) [[ ${2:-} =~ ^[1-9]$ ]] || { echo "qemu-boot.sh: --radios takes 1 to 9" >&2; exit 2; }
      radios=$2; shift 2 ;;
    *) usage ;;
  esac
done
for tool in qemu-system-aarch64 mcopy sfdisk; do
  command -v "$tool" >/dev/null || { echo "qemu-boot.sh: $tool is missing; apt-get install qemu-system-arm mtools fdisk xz-utils" >&2; exit 1; }
done

case "$image" in
  *.xz) raw=${image%.xz}; echo "qemu-boot.sh: unpacking $image to $raw" >&2; xz -d -k -f -T0 "$image"; image=$raw ;;
esac
[ -f "$image" ] || { echo "qemu-boot.sh: no image at $image" >&2; exit 1; }

# A bigger "card" than the image, as a real card is.
if [ "$(stat -c %s "$image")" -lt "$(numfmt --from=iec "$size")" ]; then truncate -s "$size" "$image"; fi

start=$(sfdisk -d "$image" | sed -n 's/^.*1 : start= *\([0-9]*\),.*/\1/p' | head -1)
fat="$image@@$((start * 512))"
if [ -n "$setup" ]; then mcopy -o -i "$fat" "$setup" ::/outpost-setup.txt; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/outpost-qemu.XXXXXX")
trap 'rm -rf "$work"' EXIT
mcopy -n -i "$fat" ::/config.txt "$work/config.txt"
kernel=$(sed -n 's/^kernel=//p' "$work/config.txt" | tail -1)
initrd=$(sed -n 's/^initramfs \([^ ]*\).*/\1/p' "$work/config.txt" | tail -1)
mcopy -n -i "$fat" "::/$kernel" "$work/vmlinuz"
mcopy -n -i "$fat" "::/$initrd" "$work/initrd"

# Debian's arm64 vmlinuz is a gzip-compressed Image, which qemu loads as it is.
net="user,id=net0"
for f in "${forwards[@]}"; do net+=",hostfwd=tcp:127.0.0.1:${f%%:*}-:${f##*:}"; done

serial=(-serial mon:stdio)
if [ -n "$logfile" ]; then serial=(-serial "file:$logfile" -monitor none); fi
monitor=()
if [ -n "$qmp" ]; then monitor=(-qmp "unix:$qmp,server=on,wait=off"); fi

# -cpu cortex-a72: the Pi 4's CPU; unlike -cpu max it has no pointer
# authentication, which is slow to emulate. virtio-rng: the guest's entropy comes from the host, so making
# the node's keys at first boot does not wait on an idle machine's entropy.
# console=ttyAMA0 is the virt machine's serial port; root, fsck and
# net.ifnames as the Pi's cmdline.txt has them. No login prompt on it
# (root has no password to log in with, and systemd stops reporting units
# on a console that a getty holds): the console shows every unit of the
# boot, hostapd's and dnsmasq's included. systemd waits 90 s for a device
# by default: under software emulation on a busy machine udev itself may
# not have started by then, and the boot partition's wait then fails the
# boot into the emergency shell; a Pi gets there in seconds.
# qemu-xhci: a USB 3 port with
# nothing in it, where --qmp plugs sticks (usb-storage, as a Pi's port takes
# them); the Debian kernel loads xhci-pci and usb-storage when they appear.
qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m "$memory" -nographic \
  -kernel "$work/vmlinuz" -initrd "$work/initrd" \
  -append "console=ttyAMA0 root=LABEL=OUTPOST_ROOT rw fsck.repair=yes net.ifnames=0 rootwait modules-load=mac80211_hwsim mac80211_hwsim.radios=$radios systemd.mask=serial-getty@ttyAMA0.service systemd.default_device_timeout_sec=900" \
  -drive "file=$image,format=raw,if=virtio,cache=unsafe" \
  -netdev "$net" -device virtio-net-pci,netdev=net0 \
  -device virtio-rng-pci \
  -device qemu-xhci,id=xhci \
  "${serial[@]}" "${monitor[@]}"
