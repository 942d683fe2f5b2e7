// The appliance as a person meets it, on the built image in the emulator
// (image/qemu-boot.sh): a carrier plugs a USB stick holding a peer's
// bundles into the box's USB port (a FAT disk image, hot-plugged through
// qemu's monitor); the box's udev rule starts the offload, the stick is
// mounted noexec,nosuid,nodev, the peer's mail reaches the box's user over
// IMAP, the stick is synced and unmounted, and this machine then finds the
// box's outgoing bundles on the disk image and delivers them at the peer
// (a real node on this machine). A stick without an outpost folder and an
// ext4 stick are left alone, and the box's journal says why.
//
// The LED and the button: Debian's arm64 kernel has neither gpio-sim nor
// gpio-mockup, but qemu's virt machine has a real GPIO controller, an ARM
// PL061, driven by the kernel's own gpio-pl061 driver. The box's real
// libgpiod driver (gpioset, gpiomon) drives the LED on its line 0, and the
// test reads the line's level from the kernel (debugfs). The virt machine
// wires its power button to line 3 (qemu's system_powerdown pulses it), which
// stands in for the Pi's button; see the button test for how.
//
// The hotspot: a second virtual radio (mac80211_hwsim) is a phone, moved
// into its own network namespace on the box. It joins the owner's network
// with the passphrase from outpost-setup.txt (and is refused with a wrong
// one), takes a lease from dnsmasq, resolves outpost.local over mDNS and
// loads the landing page. The phone's tools (wpa_supplicant, iw, dhcpcd)
// are no part of the box: they are fetched from Debian's mirror for arm64
// and installed on the test's copy of the card only.
//
// Power cuts and a pulled stick: the first power-on is cut while the
// first-boot setup runs, and the next boot finishes it. The offload is
// frozen at a crash point right after it wrote a mail bundle to the stick,
// qemu is killed, and after the next boot the same stick finishes the work
// and the mail arrives once. A stick is pulled while a bundle is half
// written on it: the unit stops, the daemon says so, and the next plug of
// that stick finishes the work and removes what the pull cut short.
//
// Slow (software emulation: minutes per boot), so it is in no tier of
// test/run.mjs; `npm run test:appliance` builds the image and runs it.
// OUTPOST_IMAGE=PATH boots another image. Needs: qemu-system-arm, mtools,
// dosfstools, e2fsprogs, fdisk, xz-utils, openssh-client, and what the
// integration tier needs for the peer node (Dovecot), and Debian's mirror
// (the phone's tools); no root.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import { api, firstPartitionOffset, IMAGE, Machine } from './machine.js'
import { startNode, type TestNode } from '../helpers/node.js'
import { messageIdCounts, smtpClient } from '../helpers/mail.js'
import { waitFor } from '../helpers/wait.js'

const BOOT_MS = 25 * 60_000
const STEP_MS = 10 * 60_000
const ADMIN = 'appliance-test-admin-password'
const ALICE_PASSWORD = 'appliance-test-alice-password'

/** A stick: an MBR with one partition at 1 MiB, as sticks come, holding `files` (path → content). */
function makeStick(path: string, fs: 'vfat' | 'ext4', files: Record<string, string>): void {
  const part = `${path}.part`
  execFileSync('truncate', ['-s', '63M', part])
  if (fs === 'vfat') execFileSync('mkfs.vfat', ['-n', 'STICK', part], { stdio: 'ignore' })
  else execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'STICK', part], { stdio: 'ignore' })
  execFileSync('sh', ['-c', 'head -c 1048576 /dev/zero >"$1" && cat "$2" >>"$1" && rm "$2"', 'sh', path, part])
  execFileSync('sfdisk', ['-q', path], { input: `start=2048, type=${fs === 'vfat' ? 'c' : '83'}\n` })
  if (fs === 'vfat') {
    const fat = `${path}@@1048576`
    for (const [name, content] of Object.entries(files)) {
      const parts = name.split('/')
      for (let i = 1; i < parts.length; i++) execFileSync('mmd', ['-D', 's', '-i', fat, `::/${parts.slice(0, i).join('/')}`], { stdio: 'ignore' })
      const src = `${path}.file`
      writeFileSync(src, content)
      execFileSync('mcopy', ['-o', '-i', fat, src, `::/${name}`])
      rmSync(src)
    }
  }
}

/** Every file on a FAT stick, as `mdir -/ -b` lists them. */
function stickFiles(path: string): string[] {
  const out = execFileSync('mdir', ['-/', '-b', '-i', `${path}@@${firstPartitionOffset(path)}`, '::/'], { encoding: 'utf8' })
  return out.split('\n').map((l) => l.trim().replace(/^::/, '')).filter((l) => l && !l.endsWith('/')).sort()
}

/** Runs on the box as root: records each change of the LED line's level, as the kernel reports it, with the box's time in ms. */
const LED_RECORDER = `
const fs = require('node:fs')
const out = fs.openSync('/run/led.log', 'a')
let last = ''
setInterval(() => {
  let v = '-'
  try { v = /\\|outpost-led\\s*\\) out (hi|lo)/.exec(fs.readFileSync('/sys/kernel/debug/gpio', 'utf8'))?.[1] ?? '-' } catch {}
  // '-': between two gpiosets nobody holds the line (it keeps its level).
  if (v !== '-' && v !== last) { last = v; fs.writeSync(out, Date.now() + ' ' + v + '\\n') }
}, 20)
`

interface Level { t: number; on: boolean }

function parseLed(log: string): Level[] {
  return log.trim().split('\n').filter(Boolean).map((l) => {
    const [t, v] = l.split(' ')
    return { t: Number(t), on: v === 'hi' }
  })
}

/** The LED's levels in [from, to) (box time, ms): the level at `from`, then each change after it. */
function levels(log: string, from: number, to: number): Level[] {
  const all = parseLed(log)
  const at = all.filter((e) => e.t <= from).at(-1)
  return [...(at ? [{ t: from, on: at.on }] : []), ...all.filter((e) => e.t > from && e.t < to)]
}

/** When the LED last came on at or before `t` (box time), if it is on at `t`. */
function litSince(log: string, t: number): number | undefined {
  const at = parseLed(log).filter((e) => e.t <= t).at(-1)
  return at?.on ? at.t : undefined
}

/** How long each lit spell lasted in [from, to), in ms (a spell still lit at `to` is cut there). */
function litSpells(log: string, from: number, to: number): number[] {
  const ls = levels(log, from, to)
  const out: number[] = []
  ls.forEach((e, i) => { if (e.on) out.push((ls[i + 1]?.t ?? to) - e.t) })
  return out
}

/** The phone's tools: Debian trixie's arm64 packages, not in the image (a box is an access point, not a Wi-Fi client). */
const PHONE_KIT = ['wpasupplicant', 'iw', 'dhcpcd-base', 'libpcsclite1']

/** Downloads the phone's packages with apt, into `dir`, from a private package list (nothing of this machine's apt is touched). */
function fetchPhoneKit(dir: string): string[] {
  const state = join(dir, 'apt')
  for (const d of ['lists/partial', 'cache/archives/partial', 'etc']) mkdirSync(join(state, d), { recursive: true })
  writeFileSync(join(state, 'etc/sources.list'), `deb [arch=arm64] ${process.env.OUTPOST_IMAGE_MIRROR ?? 'http://deb.debian.org/debian'} trixie main\n`)
  writeFileSync(join(state, 'status'), '')
  const o = [`Dir::State=${state}`, `Dir::State::status=${join(state, 'status')}`, `Dir::Cache=${join(state, 'cache')}`, `Dir::Etc::SourceList=${join(state, 'etc/sources.list')}`, 'Dir::Etc::SourceParts=/dev/null', 'Dir::Etc::Preferences=/dev/null', `Dir::Etc::PreferencesParts=${join(state, 'etc')}`, 'APT::Architecture=arm64', 'APT::Architectures=arm64', 'Debug::NoLocking=1'].flatMap((x) => ['-o', x])
  execFileSync('apt-get', [...o, '-q', 'update'], { stdio: 'ignore' })
  execFileSync('apt-get', [...o, '-q', 'download', ...PHONE_KIT], { cwd: dir, stdio: 'ignore' })
  return readdirSync(dir).filter((f) => f.endsWith('.deb')).map((f) => join(dir, f))
}

/** Runs in the phone's network namespace on the box: finds outpost.local by mDNS, as a phone does, and loads the landing page from it. */
const PHONE_BROWSER = `
const mdns = require('/usr/lib/outpost/node_modules/multicast-dns')()
const https = require('node:https')
const t0 = Date.now()
const get = (host, path) => new Promise((resolve, reject) => https.get({ host, path, servername: 'outpost.local', rejectUnauthorized: false, headers: { host: 'outpost.local' } }, (res) => {
  let body = ''
  res.setEncoding('utf8')
  res.on('data', (c) => (body += c))
  res.on('end', () => resolve({ status: res.statusCode, body }))
}).on('error', reject))
const fail = (error) => { console.log(JSON.stringify({ error })); process.exit(1) }
const timer = setTimeout(() => fail('no mDNS answer for outpost.local within 60 s'), 60000)
const ask = () => mdns.query({ questions: [{ name: 'outpost.local', type: 'A' }] })
const again = setInterval(ask, 2000)
mdns.on('response', async (r) => {
  const a = r.answers.find((x) => x.type === 'A' && x.name === 'outpost.local')
  if (!a) return
  clearTimeout(timer); clearInterval(again); mdns.destroy()
  const resolvedMs = Date.now() - t0
  try {
    const page = await get(a.data, '/')
    const info = await get(a.data, '/api/public/info')
    console.log(JSON.stringify({ address: a.data, resolvedMs, pageMs: Date.now() - t0, status: page.status, title: /<title>([^<]*)/.exec(page.body)?.[1], info: JSON.parse(info.body) }))
  } catch (err) { fail(err.message) }
})
ask()
`

describe('the appliance in the emulator: a stick is plugged in, offloaded and safe to remove', { timeout: 5 * BOOT_MS }, () => {
  const work = mkdtempSync(join(tmpdir(), 'outpost-appliance-'))
  const img = join(work, 'outpost.img')
  // Two radios: the box's own (wlan0, the hotspot) and the phone's (wlan1).
  const box = new Machine({ img, work, forward: { web: 443, submission: 587, imap: 143, ssh: 22 }, radios: 2 })
  let phoneKit: string[] = []
  let town: TestNode | undefined
  let bob = { address: '', password: '' }
  const alice = { address: 'alice@camp.test', password: ALICE_PASSWORD }
  const timings: string[] = []
  /** A step's timing, kept for the closing log and written at once to progress.log in the work dir (a run takes long). */
  const note = (line: string) => {
    timings.push(line)
    appendFileSync(join(work, 'progress.log'), `${new Date().toISOString()} ${line}\n`)
  }
  const since = (t: number) => `${((Date.now() - t) / 1000).toFixed(1)} s`

  /** The box's journal since a host time, one line per entry, with the guest's Unix time first. */
  const journal = async (t: number, args: string) => (await box.sshOk(`journalctl --no-pager -o short-unix --since=@${Math.floor(t / 1000) - 1} ${args}`)).split('\n')

  before(async () => {
    assert.ok(existsSync(IMAGE), `no image at ${IMAGE}: run npm run image first`)
    if (IMAGE.endsWith('.xz')) execFileSync('sh', ['-c', 'xz -d -c -T0 "$1" >"$2"', 'sh', IMAGE, img])
    else copyFileSync(IMAGE, img)
    await box.allocatePorts()
    const setup = join(work, 'outpost-setup.txt')
    writeFileSync(setup, ['name = camp', 'domain = camp.test', 'wifi_ssid = Camp Test', 'wifi_country = FR', 'wifi_passphrase = camp test passphrase', `admin_password = ${ADMIN}`, `ssh_authorized_key = ${box.makeSshKey()}`, ''].join('\n'))
    execFileSync('mcopy', ['-o', '-i', `${img}@@${firstPartitionOffset(img)}`, setup, '::/outpost-setup.txt'])
    const kit = join(work, 'phone-kit')
    mkdirSync(kit)
    phoneKit = fetchPhoneKit(kit)
    // The peer: a real node on this machine, as a box elsewhere would be.
    town = await startNode({ domain: 'town.test', name: 'town' })
    bob = await town.addAccount('bob')
  })

  after(async () => {
    await box.powerCut()
    await town?.destroy()
    console.log(['appliance timings (software emulation):', ...timings].join('\n  '))
    if (process.env.OUTPOST_KEEP_BOOT_TEST) console.log(`kept ${work}`)
    else rmSync(work, { recursive: true, force: true })
  })

  it('a power cut during the first boot: the next boot finishes it, and the box and the peer trust each other by their cards', async () => {
    // The first power-on is cut while the first-boot setup runs (SSH host
    // keys, `outpost init`, outpost-setup.txt applied), as when someone
    // pulls the plug of a box that seems to do nothing for a minute.
    const setupStarted = await box.powerOnUntil('first boot, cut', /Starting outpost-setup\.service/, BOOT_MS)
    await box.powerCut()
    const cut = box.console()
    assert.doesNotMatch(cut, /Finished outpost-setup\.service/, 'the power was cut before the first-boot setup finished')
    assert.match(cut, /Finished outpost-grow-root\.service/, 'after the root file system was grown')
    note(`first boot cut: the setup unit started ${setupStarted} s after power-on, and the power was cut then`)
    note(`boot after the cut: /api/health answered ${await box.boot('first boot, after the cut', BOOT_MS)} s after power-on`)
    const again = box.console()
    assert.match(again, /Finished outpost-setup\.service/, 'the setup ran to the end on the next boot')
    assert.doesNotMatch(again, /Failed to start (outpost[a-z-]*|hostapd|dnsmasq)\.service/)
    // The card was applied: its note says so, and the passphrase and password are no longer on it.
    const card = execFileSync('mtype', ['-i', `${img}@@${firstPartitionOffset(img)}`, '::/outpost-setup.txt'], { encoding: 'utf8' })
    assert.doesNotMatch(card, /^admin_password = \S/m, 'the admin password was applied and removed from the card')
    assert.doesNotMatch(card, /^wifi_passphrase = \S/m, 'the passphrase was applied and removed from the card')
    const login = await api(box.ports.web!, 'POST', '/api/auth/login', { body: { password: ADMIN } })
    assert.equal(login.status, 200, login.body)
    const csrf = (JSON.parse(login.body) as { csrf: string }).csrf
    const made = await api(box.ports.web!, 'POST', '/api/accounts', { body: { name: 'alice', password: ALICE_PASSWORD }, cookie: login.cookie, csrf })
    assert.equal(made.status, 200, made.body)
    // Cards crossed once, as two owners would by showing each other a QR.
    const campCard = (await box.sshOk('runuser -u outpost -- outpost card --text --data /var/lib/outpost')).trim()
    const add = await town!.cli(['peer', 'add', campCard])
    assert.equal(add.code, 0, add.stderr)
    const townCard = (await town!.cli(['card', '--text'])).stdout.trim()
    assert.match(townCard, /^outpost-card:[^']+$/)
    await box.sshOk(`runuser -u outpost -- outpost peer add '${townCard}' --data /var/lib/outpost`)
  })

  it('drives the LED through the real libgpiod driver on the emulated GPIO chip: the ready heartbeat', async () => {
    // What the kernel offers: no GPIO mock, a PL061.
    assert.notEqual((await box.ssh('modinfo gpio-sim')).code, 0, 'gpio-sim is not in Debian\'s kernel')
    assert.notEqual((await box.ssh('modinfo gpio-mockup')).code, 0, 'gpio-mockup is not in Debian\'s kernel')
    assert.match(await box.sshOk('gpiodetect'), /^gpiochip0 \[[^\]]*pl061\] \(8 lines\)$/m)
    // The power button's kernel driver lets go of line 3 (a press would power
    // the box off), the outpost user may open the chip (on Raspberry Pi OS
    // the gpio group does that), and the appliance daemon is told where the
    // LED and button are, for this boot only (a drop-in under /run).
    await box.sshOk([
      'if [ -e /sys/bus/platform/drivers/gpio-keys/gpio-keys ]; then echo gpio-keys >/sys/bus/platform/drivers/gpio-keys/unbind; fi',
      'chown outpost /dev/gpiochip0',
      'mkdir -p /run/systemd/system/outpost-appliance.service.d',
      'printf "[Service]\\nEnvironment=OUTPOST_GPIO_ENABLED=true OUTPOST_GPIO_CHIP=gpiochip0 OUTPOST_GPIO_LED=0 OUTPOST_GPIO_BUTTON=3\\n" >/run/systemd/system/outpost-appliance.service.d/50-emulated-gpio.conf',
      'systemctl daemon-reload',
      'systemctl restart outpost-appliance.service',
      `echo ${Buffer.from(LED_RECORDER).toString('base64')} | base64 -d >/run/led-recorder.js`,
      // In braces: a bare & would put the whole && list in the background,
      // holding the SSH session's output open, and the call would never end.
      '{ nohup node /run/led-recorder.js </dev/null >/dev/null 2>&1 & }',
    ].join(' && '), STEP_MS)
    const started = Date.now()
    const said = await waitFor('the daemon to take the LED and button', async () => (await box.sshOk('journalctl --no-pager -o cat -u outpost-appliance.service -n 20')).match(/LED on gpiochip0 line 0, button on line 3 \(libgpiod 2\)/), { timeoutMs: STEP_MS, everyMs: 3000 })
    assert.ok(said)
    // The node answers, so the daemon shows "ready": a short flash every two seconds.
    const log = await waitFor('five flashes', async () => {
      const l = (await box.ssh('cat /run/led.log')).stdout
      return (l.match(/ hi$/gm)?.length ?? 0) >= 6 ? l : undefined
    }, { timeoutMs: STEP_MS, everyMs: 3000 })
    const first = Number(log.split(' ')[0])
    const spells = litSpells(log, first, Number.MAX_SAFE_INTEGER).slice(1, -1)
    // A flash is meant to be 100 ms; under emulation each gpioset takes a while to start.
    assert.ok(spells.every((ms) => ms < 1000), `short flashes: ${spells.join(', ')} ms`)
    const ons = levels(log, first, Number.MAX_SAFE_INTEGER).filter((e) => e.on).map((e) => e.t)
    const gaps = ons.slice(1).map((t, i) => t - ons[i]!)
    // A flash every two seconds. Under software emulation starting a gpioset
    // can take longer than the 100 ms flash, and then that flash never
    // reaches the line (the driver skips a level already withdrawn), so a
    // gap may span a whole number of periods; it stays on the beat.
    const beats = gaps.slice(1).map((g) => g / 2000)
    assert.ok(beats.every((b) => b >= 0.75 && Math.abs(b - Math.round(b)) <= 0.25), `flashes on the two-second beat: ${gaps.join(', ')} ms apart`)
    note(`LED heartbeat (ready) seen: ${since(started)} after the daemon was restarted with the GPIO chip; ${beats.length} flashes on the line over ${beats.reduce((n, b) => n + Math.round(b), 0)} beats (${gaps.slice(1).join(', ')} ms apart)`)
  })

  it('a stick with the peer\'s bundles is plugged in: mounted noexec,nosuid,nodev, imported, exported, synced and unmounted', async () => {
    // Mail both ways waits for the stick: bob's at town, alice's at the box.
    const toCamp = smtpClient(town!.ports.submission, bob)
    await toCamp.sendMail({ from: bob.address, to: alice.address, subject: 'by stick', text: 'The bridge is out; take the ford.\n', messageId: '<to-camp@town.test>' })
    toCamp.close()
    const toTown = smtpClient(box.ports.submission!, alice)
    await toTown.sendMail({ from: alice.address, to: bob.address, subject: 'by stick', text: 'Thanks, we will.\n', messageId: '<to-town@camp.test>' })
    toTown.close()
    const carried = join(work, 'from-town')
    mkdirSync(carried)
    const exp = await town!.cli(['export', carried])
    assert.equal(exp.code, 0, exp.stderr)
    const bundles = readdirSync(join(carried, 'outpost', 'camp'))
    assert.equal(bundles.length, 1, 'town wrote one bundle for the box')
    const stick = join(work, 'stick.img')
    makeStick(stick, 'vfat', {})
    execFileSync('mmd', ['-i', `${stick}@@1048576`, '::/outpost', '::/outpost/camp'])
    for (const f of bundles) execFileSync('mcopy', ['-i', `${stick}@@1048576`, join(carried, 'outpost', 'camp', f), `::/outpost/camp/${f}`])

    // Watches on the box for the stick's mount, to read its options while it is mounted.
    await box.sshOk(`rm -f /run/stick-options; nohup sh -c 'for i in $(seq 1 6000); do o=$(findmnt -no OPTIONS /run/outpost/usb/sda1) && { echo "$o" >/run/stick-options; exit 0; }; sleep 0.1; done' </dev/null >/dev/null 2>&1 &`)
    const plugged = Date.now()
    const id = await box.plug(stick)
    note(`stick plugged (QMP device_add answered): ${since(plugged)}`)
    const done = await waitFor('the offload to end', async () => {
      const lines = await journal(plugged, '-u outpost-usb@sda1.service -o cat')
      return lines.find((l) => /safe to remove|failed/.test(l))
    }, { timeoutMs: STEP_MS, everyMs: 3000 })
    assert.match(done, /imported 1 bundles; exported 1 messages and 1 acks for town; safe to remove/)
    await waitFor('the stick to be unmounted', async () => (await box.ssh('findmnt /run/outpost/usb/sda1')).code === 1, { timeoutMs: STEP_MS, everyMs: 2000 })
    const options = (await box.sshOk('cat /run/stick-options')).trim().split(',')
    for (const o of ['noexec', 'nosuid', 'nodev']) assert.ok(options.includes(o), `mounted ${o}: ${options.join(',')}`)

    // When each step happened, by the box's own journal (its clock is the host's, from the emulated RTC).
    const at = async (what: string, args: string, re: RegExp) => {
      const line = (await journal(plugged, args)).find((l) => re.test(l))
      const t = Number(line?.split(' ')[0])
      note(`${what}: ${line ? `${(t - plugged / 1000).toFixed(1)} s after the plug` : 'not in the journal'}`)
    }
    await at('stick seen by the kernel', '-k', /Attached SCSI removable disk/)
    await at('offload unit started', '-u outpost-usb@sda1.service', /Starting outpost-usb@sda1\.service/)
    await at('stick mounted', '', /Mounted run-outpost-usb-sda1\.mount|run-outpost-usb-sda1\.mount: Mounted/)
    await at('import and export done, LED steady (safe to remove)', '-u outpost-usb@sda1.service', /safe to remove/)
    await at('stick unmounted', '', /run-outpost-usb-sda1\.mount: Deactivated successfully|Unmounted run-outpost-usb-sda1\.mount/)

    // Alice reads bob's mail over IMAP, as her phone would.
    const imap = new ImapFlow({ host: '127.0.0.1', port: box.ports.imap!, secure: false, tls: { rejectUnauthorized: false }, auth: { user: alice.address, pass: alice.password }, logger: false })
    await imap.connect()
    try {
      const lock = await imap.getMailboxLock('INBOX')
      try {
        const ids: string[] = []
        for await (const m of imap.fetch('1:*', { envelope: true })) ids.push(m.envelope?.messageId ?? '')
        assert.equal(ids.filter((m) => m === '<to-camp@town.test>').length, 1, `bob's mail in alice's inbox, once: ${ids.join(' ')}`)
      } finally {
        lock.release()
      }
    } finally {
      await imap.logout()
    }

    // The LED while the stick was worked and after: blinking twice a second,
    // then steady on (safe to remove) for a minute, then back to the heartbeat.
    const boxTime = async (re: RegExp, args: string) => Number((await journal(plugged, args)).find((l) => re.test(l))?.split(' ')[0]) * 1000
    const unitStart = await boxTime(/Starting outpost-usb@sda1\.service/, '-u outpost-usb@sda1.service')
    const safe = await boxTime(/safe to remove/, '-u outpost-usb@sda1.service')
    await waitFor('the minute of "safe to remove" to pass', async () => Number((await box.sshOk('date +%s%3N')).trim()) > safe + 72_000, { timeoutMs: STEP_MS, everyMs: 5000 })
    const led = await box.sshOk('cat /run/led.log')
    // Working: lit again every half second or so (the heartbeat lights it every two).
    const ons = levels(led, unitStart, safe).filter((e) => e.on).map((e) => e.t)
    const periods = ons.slice(1).map((t, i) => t - ons[i]!).filter((ms) => ms < 1200)
    assert.ok(periods.length >= 2, `blinked while working: lit at ${ons.map((t) => t - unitStart).join(', ')} ms after the unit started`)
    assert.ok(periods.every((ms) => ms >= 300), `blinking twice a second: ${periods.join(', ')} ms apart`)
    // Done: on within a few seconds of "safe to remove", then unbroken for the minute.
    const steadyFrom = litSince(led, safe + 3000)
    assert.ok(steadyFrom !== undefined, 'the LED is on once the offload is done')
    note(`LED steady (safe to remove): ${((steadyFrom - plugged) / 1000).toFixed(1)} s after the plug`)
    assert.deepEqual(levels(led, steadyFrom, steadyFrom + 55_000).map((e) => e.on), [true], 'steady on, unbroken, for the minute')
    // Then off, when the minute is up: the pattern goes back to the heartbeat.
    const off = parseLed(led).find((e) => e.t > steadyFrom && !e.on)
    assert.ok(off && off.t - steadyFrom >= 59_000 && off.t - steadyFrom < 65_000, `off again a minute after "safe to remove": ${off ? off.t - steadyFrom : 'never'} ms`)
    note(`LED back from "safe to remove": ${((off.t - steadyFrom) / 1000).toFixed(1)} s after it went steady`)
    // The heartbeat's short flashes follow. Each is a gpioset started under
    // emulation, so when they come depends on how busy the emulated box is:
    // waited for with a bound, and only their shortness is asserted.
    const beats = await waitFor('the heartbeat after the minute', async () => {
      const spells = litSpells((await box.ssh('cat /run/led.log')).stdout, off.t, Number.MAX_SAFE_INTEGER).slice(0, -1)
      return spells.length >= 2 ? spells : undefined
    }, { timeoutMs: STEP_MS, everyMs: 5000 })
    assert.ok(beats.every((ms) => ms < 1000), `back to the heartbeat after the minute: lit ${beats.join(', ')} ms`)

    // The button, short press: the plugged stick is synced again (its unit
    // started through polkit by the unprivileged daemon). qemu's power
    // button is wired active high (each system_powerdown is a 100 ms pulse),
    // the other way round from the Pi's button to ground; so two pulses a
    // second apart are one short press: the first pulse's falling edge is
    // where the daemon sees the press begin, the second's rising edge the
    // release.
    const pressed = Date.now()
    await box.qmp!.command('system_powerdown')
    await new Promise((r) => setTimeout(r, 1000))
    await box.qmp!.command('system_powerdown')
    const again = await waitFor('the offload the button started', async () => {
      const lines = await journal(pressed, '-u outpost-usb@sda1.service -o cat')
      return lines.find((l) => /safe to remove|failed/.test(l))
    }, { timeoutMs: STEP_MS, everyMs: 3000 })
    assert.match(again, /imported 0 bundles; .*safe to remove/)
    note(`button pressed → stick synced again: ${since(pressed)}`)
    await waitFor('the stick to be unmounted again', async () => (await box.ssh('findmnt /run/outpost/usb/sda1')).code === 1, { timeoutMs: STEP_MS, everyMs: 2000 })

    // Pulled, the stick holds the box's bundles for town and nothing for the box any more.
    await box.pull(id)
    const onStick = stickFiles(stick)
    assert.deepEqual(onStick.filter((f) => f.startsWith('/outpost/camp/')), [], 'the box took its bundle off the stick')
    const forTown = onStick.filter((f) => /^\/outpost\/town\/[^/]+\.obundle$/.test(f))
    // A mail bundle and an ack bundle from the plug; the button's sync wrote
    // alice's mail again (it stays in the outbox until town acks it).
    assert.ok(forTown.length >= 2, `a mail bundle and an ack bundle for town: ${onStick.join(' ')}`)
    const back = join(work, 'to-town')
    mkdirSync(join(back, 'outpost', 'town'), { recursive: true })
    for (const f of forTown) execFileSync('mcopy', ['-i', `${stick}@@1048576`, `::${f}`, join(back, f)])
    const imp = await town!.cli(['import', back])
    assert.equal(imp.code, 0, imp.stdout + imp.stderr)
    assert.equal(messageIdCounts(town!.data, bob.address).get('<to-town@camp.test>'), 1, 'alice\'s mail reached bob, once')
  })

  it('a stick without an outpost folder is left as it is, and the journal says why', async () => {
    const stick = join(work, 'photos.img')
    makeStick(stick, 'vfat', { 'DCIM/holiday.txt': 'not mail\n' })
    const before = stickFiles(stick)
    const plugged = Date.now()
    const id = await box.plug(stick)
    const why = await waitFor('the offload unit to say why', async () => (await journal(plugged, '-u outpost-usb@sda1.service -o cat')).find((l) => /not an Outpost stick/.test(l)), { timeoutMs: STEP_MS, everyMs: 3000 })
    assert.match(why, /no outpost folder at the root of the stick/)
    await waitFor('the stick to be unmounted', async () => (await box.ssh('findmnt /run/outpost/usb/sda1')).code === 1, { timeoutMs: STEP_MS, everyMs: 2000 })
    await box.pull(id)
    assert.deepEqual(stickFiles(stick), before, 'nothing written to it')
  })

  it('an ext4 stick starts nothing, and the journal says why', async () => {
    const stick = join(work, 'linux.img')
    makeStick(stick, 'ext4', {})
    const plugged = Date.now()
    const id = await box.plug(stick)
    const why = await waitFor('the udev rule to log the stick', async () => (await journal(plugged, '-t outpost-usb -o cat')).find((l) => /ignoring \/dev\/sda1/.test(l)), { timeoutMs: STEP_MS, everyMs: 3000 })
    assert.match(why, /not FAT or exFAT \(ID_FS_TYPE=ext4\)/)
    assert.deepEqual((await journal(plugged, '-u outpost-usb@sda1.service -o cat')).filter((l) => l.trim() && !/^-- No entries --$/.test(l)), [], 'no offload unit ran')
    await box.pull(id)
  })

  it('a phone joins the hotspot with the passphrase on the card, gets a lease, finds outpost.local by mDNS and loads the landing page; a wrong passphrase is refused', async () => {
    // The kit onto the test's box, and the second radio into the phone's own network namespace.
    const remote: string[] = []
    for (const deb of phoneKit) {
      const to = `/tmp/${deb.split('/').at(-1)!.replace(/[^A-Za-z0-9._+-]/g, '_')}`
      await box.copyTo(deb, to)
      remote.push(to)
    }
    await box.sshOk(`dpkg -i ${remote.join(' ')} >/dev/null && rm ${remote.join(' ')}`, STEP_MS)
    await box.sshOk([
      'ip netns add phone',
      'iw phy "$(cat /sys/class/net/wlan1/phy80211/name)" set netns name phone',
      // ip netns exec mounts this over /etc/resolv.conf for the phone: its DHCP client writes there, not into the box's.
      'mkdir -p /etc/netns/phone', ': >/etc/netns/phone/resolv.conf',
      'ip netns exec phone ip link set lo up',
    ].join(' && '))
    const supplicant = async (name: string, passphrase: string) => {
      await box.sshOk(`printf 'ctrl_interface=/run/${name}-ctl\\nnetwork={\\n ssid="Camp Test"\\n psk="${passphrase}"\\n}\\n' >/run/${name}.conf && ip netns exec phone wpa_supplicant -B -i wlan1 -c /run/${name}.conf -f /run/${name}.log -P /run/${name}.pid`)
    }
    const wpaLog = async (name: string) => (await box.ssh(`cat /run/${name}.log`)).stdout

    // A wrong passphrase: the handshake fails and the phone never connects.
    await supplicant('wrong', 'not the passphrase')
    const refused = await waitFor('the wrong passphrase to be refused', async () => /reason=WRONG_KEY|pre-shared key may be incorrect/.exec(await wpaLog('wrong'))?.[0], { timeoutMs: STEP_MS, everyMs: 2000 })
    assert.ok(refused)
    assert.doesNotMatch(await wpaLog('wrong'), /CTRL-EVENT-CONNECTED/)
    await box.sshOk('kill "$(cat /run/wrong.pid)"; while [ -e /run/wrong.pid ]; do sleep 0.2; done')

    // The owner's passphrase, as written on the card.
    const joining = Date.now()
    await supplicant('phone', 'camp test passphrase')
    await waitFor('the phone to associate', async () => /CTRL-EVENT-CONNECTED/.test(await wpaLog('phone')), { timeoutMs: STEP_MS, everyMs: 1000 })
    note(`phone associated (WPA2 handshake done): ${since(joining)} after wpa_supplicant started`)
    const leasing = Date.now()
    await box.sshOk('ip netns exec phone dhcpcd -4 -1 -w -t 120 wlan1 >/run/dhcpcd.log 2>&1', STEP_MS)
    const addr = (await box.sshOk('ip netns exec phone ip -4 -o addr show dev wlan1')).match(/inet (10\.42\.0\.\d+)\/24/)?.[1]
    assert.ok(addr, 'an address on the hotspot\'s network')
    note(`DHCP lease (${addr}): ${since(leasing)} after dhcpcd started`)
    // The box saw it too: hostapd let the phone in, dnsmasq leased it the address.
    const boxSide = await journal(joining, '-u hostapd.service -u dnsmasq.service -o cat')
    assert.ok(boxSide.some((l) => /AP-STA-CONNECTED|pairwise key handshake completed/.test(l)), `hostapd: ${boxSide.join(' | ')}`)
    assert.ok(boxSide.some((l) => l.includes(`DHCPACK(wlan0) ${addr}`)), `dnsmasq: ${boxSide.join(' | ')}`)

    const browsing = Date.now()
    await box.sshOk(`echo ${Buffer.from(PHONE_BROWSER).toString('base64')} | base64 -d >/run/phone-browser.js`)
    const seen = JSON.parse((await box.ssh('ip netns exec phone node /run/phone-browser.js', STEP_MS)).stdout.trim().split('\n').at(-1) ?? '{}') as { error?: string; address?: string; resolvedMs?: number; pageMs?: number; status?: number; title?: string; info?: { name?: string } }
    assert.equal(seen.error, undefined)
    assert.equal(seen.address, '10.42.0.1', 'outpost.local is the box, by mDNS')
    assert.equal(seen.status, 200)
    assert.equal(seen.title, 'Outpost')
    assert.equal(seen.info?.name, 'camp')
    note(`outpost.local resolved by mDNS: ${(seen.resolvedMs! / 1000).toFixed(1)} s; landing page loaded: ${(seen.pageMs! / 1000).toFixed(1)} s (from the phone's browser starting; ${since(browsing)} with node's start)`)
  })

  it('a power cut in the middle of an export loses nothing: after the next boot the same stick finishes the work', async () => {
    const toTown = smtpClient(box.ports.submission!, alice)
    await toTown.sendMail({ from: alice.address, to: bob.address, subject: 'before the cut', text: 'Still there?\n', messageId: '<cut@camp.test>' })
    toTown.close()
    // The offload freezes right after it has written the mail bundle to the
    // stick and before it records that in the database (a crash point);
    // the power is cut exactly there. The drop-in is under /run: the next
    // boot does not have it.
    await box.sshOk([
      'mkdir -p /run/systemd/system/outpost-usb@.service.d',
      'printf "[Service]\\nEnvironment=OUTPOST_CRASH_AT=export.mail-written:1:stop\\n" >/run/systemd/system/outpost-usb@.service.d/50-power-cut.conf',
      'systemctl daemon-reload',
    ].join(' && '))
    const stick = join(work, 'cut.img')
    makeStick(stick, 'vfat', {})
    execFileSync('mmd', ['-i', `${stick}@@1048576`, '::/outpost'])
    const plugged = Date.now()
    await box.plug(stick)
    await waitFor('the offload to reach the crash point', async () => (await journal(plugged, '-u outpost-usb@sda1.service -o cat')).some((l) => /crash point export\.mail-written \(#1\): freezing/.test(l)), { timeoutMs: STEP_MS, everyMs: 3000 })
    await box.powerCut()
    const afterCut = stickFiles(stick).filter((f) => f.startsWith('/outpost/town/'))
    note(`power cut mid-export: the stick then held ${afterCut.length} bundle(s) for town (written and fsynced before the cut)`)

    note(`boot after the power cut: /api/health answered ${await box.boot('after the power cut', BOOT_MS)} s after power-on`)
    // The same stick, plugged in again: this time the offload runs to the end.
    const replugged = Date.now()
    const id = await box.plug(stick)
    const done = await waitFor('the offload to end', async () => (await journal(replugged, '-u outpost-usb@sda1.service -o cat')).find((l) => /safe to remove|failed/.test(l)), { timeoutMs: STEP_MS, everyMs: 3000 })
    assert.match(done, /exported [1-9]\d* messages .*safe to remove/)
    await waitFor('the stick to be unmounted', async () => (await box.ssh('findmnt /run/outpost/usb/sda1')).code === 1, { timeoutMs: STEP_MS, everyMs: 2000 })
    await box.pull(id)
    // The stick's file system is whole (the box checked and repaired it when it mounted it again), and bob gets the mail once.
    execFileSync('sh', ['-c', 'tail -c +1048577 "$1" >"$1.fat" && fsck.vfat -n "$1.fat" && rm "$1.fat"', 'sh', stick], { stdio: 'ignore' })
    const back = join(work, 'after-cut')
    mkdirSync(join(back, 'outpost', 'town'), { recursive: true })
    for (const f of stickFiles(stick).filter((x) => /^\/outpost\/town\/[^/]+\.obundle$/.test(x))) execFileSync('mcopy', ['-i', `${stick}@@1048576`, `::${f}`, join(back, f)])
    const imp = await town!.cli(['import', back])
    assert.equal(imp.code, 0, imp.stdout + imp.stderr)
    assert.equal(messageIdCounts(town!.data, bob.address).get('<cut@camp.test>'), 1, 'the mail written before the cut reached bob, once')
    assert.equal(messageIdCounts(town!.data, bob.address).get('<to-town@camp.test>'), 1, 'and the earlier one is still there once')
  })

  it('a stick pulled in the middle of an export loses nothing: the next plug finishes the work and clears what the pull cut short', async () => {
    const toTown = smtpClient(box.ports.submission!, alice)
    await toTown.sendMail({ from: alice.address, to: bob.address, subject: 'before the pull', text: 'Pull it now.\n', messageId: '<pulled@camp.test>' })
    toTown.close()
    // The offload freezes with its first bundle written to the stick under
    // its tmp name, fsynced, not yet renamed (a crash point); the stick is
    // pulled exactly there, and systemd stops the unit (BindsTo= its device).
    await box.sshOk([
      'mkdir -p /run/systemd/system/outpost-usb@.service.d',
      'printf "[Service]\\nEnvironment=OUTPOST_CRASH_AT=durable.written:1:stop\\n" >/run/systemd/system/outpost-usb@.service.d/50-pull.conf',
      'systemctl daemon-reload',
    ].join(' && '))
    const stick = join(work, 'pulled.img')
    makeStick(stick, 'vfat', {})
    execFileSync('mmd', ['-i', `${stick}@@1048576`, '::/outpost'])
    const plugged = Date.now()
    const first = await box.plug(stick)
    await waitFor('the offload to freeze mid-write', async () => (await journal(plugged, '-u outpost-usb@sda1.service -o cat')).some((l) => /crash point durable\.written \(#1\): freezing/.test(l)), { timeoutMs: STEP_MS, everyMs: 3000 })
    const pulled = Date.now()
    await box.pull(first)
    await waitFor('the offload unit to stop with its stick', async () => !/^(active|activating|deactivating)$/m.test((await box.ssh('systemctl is-active outpost-usb@sda1.service')).stdout), { timeoutMs: STEP_MS, everyMs: 2000 })
    await waitFor('the mount to go', async () => (await box.ssh('findmnt /run/outpost/usb/sda1')).code === 1, { timeoutMs: STEP_MS, everyMs: 2000 })
    note(`stick pulled mid-write: the offload unit stopped ${since(pulled)} after the pull`)
    const said = await waitFor('the appliance daemon to see the pull', async () => (await journal(pulled, '-u outpost-appliance.service -o cat')).find((l) => /removed before its offload finished/.test(l)), { timeoutMs: STEP_MS, everyMs: 3000 })
    assert.match(said, /nothing is lost, plug it in again/)
    await box.sshOk('rm /run/systemd/system/outpost-usb@.service.d/50-pull.conf && systemctl daemon-reload')
    const cutWrite = (f: string) => /^\/outpost\/town\/\.[^/]+\.obundle\.\d+\.[0-9a-f]{8}\.tmp$/.test(f)
    const afterPull = stickFiles(stick)
    assert.deepEqual(afterPull.filter((f) => /^\/outpost\/town\/[^./][^/]*\.obundle$/.test(f)), [], `no finished bundle on the pulled stick: ${afterPull.join(' ')}`)
    const cut = afterPull.filter(cutWrite)
    note(`the pulled stick held ${cut.length} unfinished bundle write(s) and no finished bundle`)

    // The same stick again: the offload runs to the end and removes what the pull cut short.
    const replugged = Date.now()
    const id = await box.plug(stick)
    const done = await waitFor('the offload to end', async () => (await journal(replugged, '-u outpost-usb@sda1.service -o cat')).find((l) => /safe to remove|failed/.test(l)), { timeoutMs: STEP_MS, everyMs: 3000 })
    assert.match(done, /exported [1-9]\d* messages .*safe to remove/)
    if (cut.length) assert.match(done, new RegExp(`removed ${cut.length} unfinished bundle writes an earlier pull had cut short`))
    note(`plugged again after the pull: offload done ${since(replugged)} after the plug`)
    await waitFor('the stick to be unmounted', async () => (await box.ssh('findmnt /run/outpost/usb/sda1')).code === 1, { timeoutMs: STEP_MS, everyMs: 2000 })
    await box.pull(id)
    const files = stickFiles(stick)
    assert.deepEqual(files.filter(cutWrite), [], `nothing unfinished left on the stick: ${files.join(' ')}`)
    const back = join(work, 'after-pull')
    mkdirSync(join(back, 'outpost', 'town'), { recursive: true })
    for (const f of files.filter((x) => /^\/outpost\/town\/[^./][^/]*\.obundle$/.test(x))) execFileSync('mcopy', ['-i', `${stick}@@1048576`, `::${f}`, join(back, f)])
    const imp = await town!.cli(['import', back])
    assert.equal(imp.code, 0, imp.stdout + imp.stderr)
    assert.equal(messageIdCounts(town!.data, bob.address).get('<pulled@camp.test>'), 1, 'the mail of the pulled offload reached bob, once')
    assert.equal(messageIdCounts(town!.data, bob.address).get('<cut@camp.test>'), 1, 'and the one of the power cut is still there once')
  })
})
