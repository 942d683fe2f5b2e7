// The udev rule that starts the offload: only USB partitions with a file
// system, never the SD card, and it names a unit that is shipped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'

const rules = readFileSync(new URL('../../../appliance/99-outpost-usb.rules', import.meta.url), 'utf8')
const active = rules.split('\n').filter((l) => l.trim() && !l.startsWith('#'))

test('the first rule: USB partitions with a FAT or exFAT file system start outpost-usb@<kernel name>.service', () => {
  assert.equal(active.length, 2)
  const rule = active[0]!
  for (const m of ['ACTION=="add"', 'SUBSYSTEM=="block"', 'ENV{DEVTYPE}=="partition"', 'ENV{ID_BUS}=="usb"', 'ENV{ID_FS_USAGE}=="filesystem"', 'ENV{ID_FS_TYPE}=="vfat|exfat"', 'TAG+="systemd"']) {
    assert.ok(rule.includes(m), `matches ${m}`)
  }
  const wants = /ENV\{SYSTEMD_WANTS\}\+="([^"]+)"/.exec(rule)?.[1]
  assert.equal(wants, 'outpost-usb@%k.service')
  assert.ok(existsSync(new URL('../../../systemd/outpost-usb@.service', import.meta.url)), 'the unit it starts is shipped')
})

test('the second rule: any other USB partition starts nothing and is logged with its file system type', () => {
  const rule = active[1]!
  for (const m of ['ACTION=="add"', 'SUBSYSTEM=="block"', 'ENV{DEVTYPE}=="partition"', 'ENV{ID_BUS}=="usb"', 'ENV{ID_FS_TYPE}!="vfat|exfat"']) {
    assert.ok(rule.includes(m), `matches ${m}`)
  }
  assert.doesNotMatch(rule, /SYSTEMD_WANTS|TAG\+=/, 'starts no unit')
  assert.match(rule, /RUN\+="\/usr\/bin\/logger -t outpost-usb '[^']*\$env\{ID_FS_TYPE\}[^']*'"$/)
})

test('the offload unit mounts as root, offloads as the outpost user, and always unmounts', () => {
  const unit = readFileSync(new URL('../../../systemd/outpost-usb@.service', import.meta.url), 'utf8').split('\n')
  assert.ok(unit.includes('User=outpost'))
  assert.ok(unit.some((l) => l.startsWith('ExecStartPre=+/usr/bin/systemd-mount ') && l.endsWith('/dev/%I /run/outpost/usb/%i')))
  assert.ok(unit.some((l) => /^ExecStart=\/usr\/bin\/node (--\S+ )*\S+ usb offload \/run\/outpost\/usb\/%i /.test(l)))
  assert.ok(unit.includes('ExecStopPost=-+/usr/bin/systemd-umount /run/outpost/usb/%i'))
  assert.ok(unit.includes('BindsTo=dev-%i.device'))
  // Only FAT and exFAT, checked again before the mount, which never allows programs, setuid or devices.
  // The type comes from udev's database: the unit's device cgroup (PrivateDevices=) keeps even "+" commands from opening /dev/sd*.
  assert.ok(unit.some((l) => l.startsWith('ExecCondition=+/bin/sh -c ') && l.includes('udevadm info --query=property --property=ID_FS_TYPE --value /dev/%I') && l.includes('vfat|exfat) exit 0')))
  assert.ok(!unit.some((l) => /^ExecCondition=.*\bblkid\b/.test(l)), 'blkid cannot open the device from inside the unit')
  // The mount point does not exist until ExecStartPre= mounts the stick; the conditions before it run in the namespace too.
  assert.ok(unit.includes('ReadWritePaths=/var/lib/outpost -/run/outpost/usb/%i'))
  assert.ok(unit.some((l) => l.startsWith('ExecStartPre=+/usr/bin/systemd-mount ') && l.includes('--options=noexec,nosuid,nodev')))
  assert.ok(!unit.some((l) => /^MemoryDenyWriteExecute=/.test(l)), 'V8 aborts with MemoryDenyWriteExecute')
})
