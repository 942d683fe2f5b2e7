#!/usr/bin/env bash
# Checks the Raspberry Pi boot path of an image statically, since the
# emulator's virt machine boots another way (it loads the kernel itself)
# and cannot prove it:
#
#   image/check-boot-files.sh DIR        DIR: the FAT partition's files
#   image/check-boot-files.sh IMAGE.img  the card image (read with mtools)
#
# The Pi's boot ROM loads bootcode.bin (Pi 3 and Zero 2 W; the Pi 4 family
# has it in EEPROM), which loads start*.elf/fixup*.dat (start4* on the
# Pi 4 family), which reads config.txt and loads the kernel and initrd it
# names and the device tree of the board (with upstream_kernel=1, by the
# upstream kernel's file names), then starts the kernel with cmdline.txt.
set -euo pipefail
src=${1:?usage: check-boot-files.sh DIR|IMAGE}
if [ -f "$src" ]; then
  # The first partition of the image, by its start sector.
  start=$(sfdisk -d "$src" | sed -n 's/^.*1 : start= *\([0-9]*\),.*/\1/p' | head -1)
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  mcopy -s -n -i "$src@@$((start * 512))" ::/ "$dir/"
  src=$dir
fi
fail=0
bad() { echo "boot path: $*" >&2; fail=1; }
has() { [ -s "$src/$1" ] || bad "$1 is missing"; }

for f in bootcode.bin start.elf fixup.dat start_cd.elf fixup_cd.dat start4.elf fixup4.dat start4cd.elf fixup4cd.dat config.txt cmdline.txt outpost-setup.txt; do has "$f"; done
# The device trees of the supported boards, as the firmware looks them up.
for dtb in bcm2837-rpi-3-b.dtb bcm2837-rpi-3-b-plus.dtb bcm2711-rpi-4-b.dtb bcm2711-rpi-400.dtb bcm2837-rpi-zero-2-w.dtb; do has "$dtb"; done

cfg="$src/config.txt"
if [ -f "$cfg" ]; then
  grep -qx 'arm_64bit=1' "$cfg" || bad "config.txt does not start the CPU in 64-bit mode (arm_64bit=1)"
  grep -qx 'upstream_kernel=1' "$cfg" || bad "config.txt lacks upstream_kernel=1 (Debian's kernel uses the upstream device tree names)"
  kernel=$(sed -n 's/^kernel=//p' "$cfg" | tail -1)
  initrd=$(sed -n 's/^initramfs \([^ ]*\).*/\1/p' "$cfg" | tail -1)
  [ -n "$kernel" ] && [ -s "$src/$kernel" ] || bad "config.txt names kernel '${kernel}', which is not on the partition"
  [ -n "$initrd" ] && [ -s "$src/$initrd" ] || bad "config.txt names initramfs '${initrd}', which is not on the partition"
  # An arm64 Linux Image (gzip or not) or an EFI zboot image: "ARMd" at 56,
  # or gzip's magic, or "zimg" at 4 for zboot.
  if [ -n "$kernel" ] && [ -s "$src/$kernel" ]; then
    magic56=$(dd if="$src/$kernel" bs=1 skip=56 count=4 status=none)
    magic4=$(dd if="$src/$kernel" bs=1 skip=4 count=4 status=none)
    head2=$(od -An -tx1 -N2 "$src/$kernel" | tr -d ' ')
    [ "$magic56" = ARMd ] || [ "$magic4" = zimg ] || [ "$head2" = 1f8b ] || bad "$kernel is not an arm64 kernel image"
  fi
fi
cmd="$src/cmdline.txt"
if [ -f "$cmd" ]; then
  [ "$(wc -l <"$cmd")" -le 1 ] || bad "cmdline.txt must be one line"
  grep -q 'root=LABEL=OUTPOST_ROOT' "$cmd" || bad "cmdline.txt does not find the root by its label (root=LABEL=OUTPOST_ROOT)"
fi
[ $fail = 0 ] && echo "boot path: firmware, device trees, config.txt (kernel $kernel, initrd $initrd) and cmdline.txt are in place" >&2
exit $fail
