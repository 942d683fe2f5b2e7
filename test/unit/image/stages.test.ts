// The image build's stages, checked without building: the layout build.sh
// runs, the shell syntax of every script, the package lists against the
// .deb's dependencies, the first-boot units, and the static check of the
// Pi's boot path (image/check-boot-files.sh) on a good and a broken
// partition. The build itself and the boot under qemu are slow and run
// apart (image/README.md).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const IMAGE = fileURLToPath(new URL('../../../image/', import.meta.url))
const STAGES = ['stage0', 'stage1', 'stage2']

function packages(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).flatMap((l) => l.split(/\s+/))
}

function allScripts(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile() && (f.endsWith('.sh') || readFileSync(f, 'utf8').startsWith('#!/bin/sh') || readFileSync(f, 'utf8').startsWith('#!/usr/bin/env bash')))
}

test('each stage is a folder of numbered steps, each with a package list or scripts that say why', () => {
  for (const s of STAGES) {
    const steps = readdirSync(join(IMAGE, s))
    assert.ok(steps.length > 0, `${s} has steps`)
    for (const step of steps) {
      assert.match(step, /^\d\d-[a-z0-9-]+$/, `${s}/${step} is named NN-name`)
      const files = readdirSync(join(IMAGE, s, step))
      const runs = files.filter((f) => /^\d\d-run\.sh$/.test(f))
      assert.ok(files.includes('00-packages') || runs.length > 0, `${s}/${step} has 00-packages or NN-run.sh`)
      for (const r of runs) assert.match(readFileSync(join(IMAGE, s, step, r), 'utf8'), /^# /, `${s}/${step}/${r} starts with a comment saying why`)
      if (files.includes('00-packages')) {
        const text = readFileSync(join(IMAGE, s, step, '00-packages'), 'utf8')
        assert.match(text, /^# /, `${s}/${step}/00-packages says why`)
        for (const p of packages(join(IMAGE, s, step, '00-packages'))) assert.match(p, /^[a-z0-9][a-z0-9.+-]+$/, `${s}/${step}: "${p}" is a Debian package name`)
      }
    }
  }
})

test('every script of the build parses (bash -n)', () => {
  const scripts = allScripts(IMAGE)
  assert.ok(scripts.length >= 8)
  for (const f of scripts) {
    const r = spawnSync('bash', ['-n', f], { encoding: 'utf8' })
    assert.equal(r.status, 0, `${f}: ${r.stderr}`)
  }
})

test('the image has what the .deb depends on and recommends, from Debian, before the .deb is installed', () => {
  const control = readFileSync(join(IMAGE, 'deb/control'), 'utf8')
  const field = (name: string) => (new RegExp(`^${name}: (.*)$`, 'm').exec(control)?.[1] ?? '').split(',').map((d) => d.split('|')[0]!.trim().split(' ')[0]!)
  const image = new Set(STAGES.flatMap((s) => readdirSync(join(IMAGE, s)).flatMap((step) => {
    try { return packages(join(IMAGE, s, step, '00-packages')) } catch { return [] }
  })))
  // systemd-sysv brings systemd, which the .deb accepts instead of the standalone sysusers.
  for (const dep of [...field('Depends'), ...field('Recommends')]) assert.ok(image.has(dep), `the image installs ${dep}`)
  for (const p of ['linux-image-arm64', 'raspi-firmware', 'firmware-brcm80211', 'hostapd', 'dnsmasq', 'avahi-daemon', 'gpiod']) assert.ok(image.has(p), p)
})

test('systemd-analyze verify accepts the first-boot units', () => {
  const files = join(IMAGE, 'stage2/02-firstboot/files')
  const tmp = mkdtempSync(join(tmpdir(), 'op-image-units-'))
  try {
    for (const u of readdirSync(files).filter((f) => f.endsWith('.service'))) {
      copyFileSync(join(files, u), join(tmp, u))
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(tmp, u)], { encoding: 'utf8' })
      // The scripts are installed by the build, not on this machine.
      const complaints = r.stderr.split('\n').filter((l) => l.trim() && !/\/usr\/lib\/outpost-image\/.* is not executable/.test(l) && !/outpost(-hotspot|-appliance)?\.service|hostapd|dnsmasq|ssh\.service/.test(l))
      assert.deepEqual(complaints, [], `${u}`)
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})

function fakeBoot(dir: string, config: string): void {
  for (const f of ['bootcode.bin', 'start.elf', 'fixup.dat', 'start_cd.elf', 'fixup_cd.dat', 'start4.elf', 'fixup4.dat', 'start4cd.elf', 'fixup4cd.dat', 'outpost-setup.txt', 'initrd.img-6.12.0-arm64']) writeFileSync(join(dir, f), 'x')
  for (const d of ['bcm2837-rpi-3-b.dtb', 'bcm2837-rpi-3-b-plus.dtb', 'bcm2711-rpi-4-b.dtb', 'bcm2711-rpi-400.dtb', 'bcm2837-rpi-zero-2-w.dtb']) writeFileSync(join(dir, d), 'dtb')
  // An arm64 Image header: "ARMd" at byte 56.
  const k = Buffer.alloc(64)
  k.write('ARMd', 56)
  writeFileSync(join(dir, 'vmlinuz-6.12.0-arm64'), k)
  writeFileSync(join(dir, 'config.txt'), config)
  writeFileSync(join(dir, 'cmdline.txt'), 'console=tty0 root=LABEL=OUTPOST_ROOT rw fsck.repair=yes net.ifnames=0 rootwait\n')
}

test("the Pi's boot path check passes a complete partition and names what a broken one lacks", () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-boot-'))
  try {
    const good = 'arm_64bit=1\nenable_uart=1\nupstream_kernel=1\n\nkernel=vmlinuz-6.12.0-arm64\ninitramfs initrd.img-6.12.0-arm64\n'
    fakeBoot(dir, good)
    const ok = execFileSync('bash', [join(IMAGE, 'check-boot-files.sh'), dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    assert.equal(ok, '')
    writeFileSync(join(dir, 'config.txt'), good.replace('kernel=vmlinuz-6.12.0-arm64', 'kernel=vmlinuz-6.1.0-arm64'))
    rmSync(join(dir, 'bcm2837-rpi-zero-2-w.dtb'))
    const bad = spawnSync('bash', [join(IMAGE, 'check-boot-files.sh'), dir], { encoding: 'utf8' })
    assert.equal(bad.status, 1)
    assert.match(bad.stderr, /bcm2837-rpi-zero-2-w\.dtb is missing/)
    assert.match(bad.stderr, /config\.txt names kernel 'vmlinuz-6\.1\.0-arm64', which is not on the partition/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
