// The boot test of the Raspberry Pi image: the built card image boots in
// an emulated arm64 machine (image/qemu-boot.sh, qemu's virt machine with
// the image's own Debian kernel), its first boot applies a test
// outpost-setup.txt, the node answers, the web admin can be claimed only
// with the setup code written on the card, SSH is off without a key, two
// real Delta Chat clients on this machine chat through it end-to-end
// encrypted, and after a power cut (qemu killed) the next boot keeps
// everything.
//
// Slow (software emulation of an arm64 machine: several minutes per boot),
// so it is not in a tier of test/run.mjs; run it after `npm run image`:
//
//   node --import tsx --test test/image/boot.test.ts
//
// OUTPOST_IMAGE=PATH boots another image than image/out/outpost-<version>-arm64.img.xz.
// Needs: qemu-system-arm, mtools, fdisk, xz-utils; no root.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Phone, secureJoin } from '../helpers/deltachat.js'
import { freePort } from '../helpers/ports.js'
import { ANSI_COLOUR, api, firstPartitionOffset, IMAGE, REPO } from './machine.js'

const BOOT_MS = 25 * 60_000
const WAIT_MS = 120_000
const ADMIN = 'boot-test-admin-password'

/** The card's FAT partition, read with mtools while the machine is off. */
function readCard(img: string, file: string): string {
  return execFileSync('mtype', ['-i', `${img}@@${firstPartitionOffset(img)}`, `::/${file}`], { encoding: 'utf8' })
}

describe('the Raspberry Pi image boots, sets itself up from the card and carries a chat', { timeout: 3 * BOOT_MS }, () => {
  const work = mkdtempSync(join(tmpdir(), 'outpost-boot-'))
  const img = join(work, 'outpost.img')
  const ports = { web: 0, submission: 0, imap: 0, ssh: 0 }
  const phones: Phone[] = []
  let qemu: ChildProcess | undefined
  let consoleLog = ''
  const timings: string[] = []

  async function boot(label: string): Promise<void> {
    consoleLog = join(work, `${label}.log`)
    const args = [join(REPO, 'image/qemu-boot.sh'), img, '--log', consoleLog, '--forward', `${ports.web}:443`, '--forward', `${ports.submission}:587`, '--forward', `${ports.imap}:143`, '--forward', `${ports.ssh}:22`]
    const started = Date.now()
    qemu = spawn('bash', args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true })
    const deadline = started + BOOT_MS
    for (;;) {
      if (qemu.exitCode !== null) throw new Error(`qemu ended (${qemu.exitCode}) before the node answered; console in ${consoleLog}`)
      const r = await api(ports.web, 'GET', '/api/health').catch(() => undefined)
      if (r?.status === 200) break
      if (Date.now() > deadline) throw new Error(`no /api/health within ${BOOT_MS / 60_000} min; console in ${consoleLog}`)
      await new Promise((res) => setTimeout(res, 5000))
    }
    timings.push(`${label}: /api/health answered ${Math.round((Date.now() - started) / 1000)} s after power-on`)
  }

  /** A power cut: the machine is killed, not shut down. */
  async function powerCut(): Promise<void> {
    if (!qemu || qemu.exitCode !== null) return
    const gone = new Promise((r) => qemu!.once('exit', r))
    process.kill(-qemu.pid!, 'SIGKILL')
    await gone
  }

  before(async () => {
    assert.ok(existsSync(IMAGE), `no image at ${IMAGE}: run npm run image first`)
    if (IMAGE.endsWith('.xz')) execFileSync('sh', ['-c', 'xz -d -c -T0 "$1" >"$2"', 'sh', IMAGE, img])
    else copyFileSync(IMAGE, img)
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort()
    const setup = join(work, 'outpost-setup.txt')
    // No admin_password and no SSH key: the box must stay unclaimable from
    // the network and closed to SSH.
    writeFileSync(setup, ['name = camp', 'domain = camp.test', 'wifi_ssid = Camp Test', 'wifi_country = FR', 'admin_password =', ''].join('\n'))
    execFileSync('mcopy', ['-o', '-i', `${img}@@${firstPartitionOffset(img)}`, setup, '::/outpost-setup.txt'])
  })

  after(async () => {
    await Promise.allSettled(phones.map((p) => p.close()))
    await powerCut()
    console.log(timings.join('\n'))
    if (process.env.OUTPOST_KEEP_BOOT_TEST) console.log(`kept ${work}`)
    else rmSync(work, { recursive: true, force: true })
  })

  let cookie = ''
  let csrf = ''
  const made: { address: string; dclogin: string }[] = []

  it('boots for the first time and the node answers /api/health', async () => {
    await boot('first boot')
  })

  it('is claimed only with the setup code written on the card, which holds no password', async () => {
    // The card as the owner reads it (the box wrote it with fsync; the
    // machine keeps running).
    const card = readCard(img, 'outpost-setup.txt')
    const code = /^# The web admin is not claimed yet\. Its setup code: ([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})$/m.exec(card)?.[1]
    assert.ok(code, `no setup code in the card's note:\n${card}`)
    assert.doesNotMatch(card, /password, chosen|^admin_password = ./m)
    // Whoever joins the hotspot first cannot claim the box without it.
    // (Unclaimed, the API answers only the first-run page: no login.)
    assert.notEqual((await api(ports.web, 'POST', '/api/auth/login', { body: { password: ADMIN } })).status, 200)
    const wrong = await api(ports.web, 'POST', '/api/auth/setup', { body: { password: ADMIN, code: 'AAAA-AAAA-AAAA-AAAA' } })
    assert.equal(wrong.status, 403, wrong.body)
    const claim = await api(ports.web, 'POST', '/api/auth/setup', { body: { password: ADMIN, code } })
    assert.equal(claim.status, 200, claim.body)
  })

  it('starts the hotspot (hostapd, dnsmasq) on the virtual radio and tells the LED the node is ready', async () => {
    // systemd reports each unit on the serial console while it boots.
    // mac80211_hwsim (loaded by qemu-boot.sh) stands in for the Pi's chip.
    const wanted = [/Started hostapd\.service/, /Started dnsmasq\.service/, /Finished outpost-ready\.service/]
    const deadline = Date.now() + WAIT_MS
    let log = ''
    while (Date.now() < deadline) {
      // Without the colours systemd puts around unit names.
      log = readFileSync(consoleLog, 'utf8').replace(ANSI_COLOUR, '')
      if (wanted.every((w) => w.test(log))) break
      await new Promise((r) => setTimeout(r, 2000))
    }
    for (const w of wanted) assert.match(log, w)
    assert.doesNotMatch(log, /Failed to start (hostapd|dnsmasq|outpost[a-z-]*)\.service/)
  })

  it('has SSH off without a key: the port is closed', async () => {
    // qemu accepts on the forwarded port and closes it when the box refuses;
    // an SSH server would greet with "SSH-2.0-" first.
    const got = await new Promise<{ data: string; closed: boolean }>((resolve) => {
      let data = ''
      const s = connect(ports.ssh, '127.0.0.1')
      s.setEncoding('utf8')
      s.on('data', (c: string) => (data += c))
      s.on('error', () => {})
      s.on('close', () => resolve({ data, closed: true }))
      setTimeout(() => (s.destroy(), resolve({ data, closed: false })), WAIT_MS)
    })
    assert.doesNotMatch(got.data, /SSH-/)
    assert.equal(got.closed, true, 'the SSH port stayed open')
  })

  it('logs in with the password chosen on the first-run page and makes two accounts', async () => {
    const login = await api(ports.web, 'POST', '/api/auth/login', { body: { password: ADMIN } })
    assert.equal(login.status, 200, login.body)
    cookie = login.cookie ?? ''
    csrf = (JSON.parse(login.body) as { csrf: string }).csrf
    const info = JSON.parse((await api(ports.web, 'GET', '/api/public/info')).body) as { name: string; domain: string }
    assert.equal(info.name, 'camp')
    assert.equal(info.domain, 'camp.test')
    for (const name of ['alice', 'bob']) {
      const r = await api(ports.web, 'POST', '/api/accounts', { body: { name }, cookie, csrf })
      assert.equal(r.status, 200, r.body)
      made.push(JSON.parse(r.body) as { address: string; dclogin: string })
    }
  })

  it('two Delta Chat clients, configured from the accounts\' QR codes, chat through it encrypted', async () => {
    const [alice, bob] = [await Phone.start('alice'), await Phone.start('bob')]
    phones.push(alice, bob)
    // The QR names the box as phones on its hotspot reach it (10.42.0.1,
    // standard ports); from this machine it is the forwarded loopback ports.
    const local = (uri: string) => uri.replace(/([?&](?:ih|sh)=)[^&]+/g, '$1127.0.0.1').replace(/([?&]ip=)\d+/, `$1${ports.imap}`).replace(/([?&]sp=)\d+/, `$1${ports.submission}`)
    assert.equal(await alice.addAccountFromQr(local(made[0]!.dclogin), WAIT_MS), made[0]!.address)
    assert.equal(await bob.addAccountFromQr(local(made[1]!.dclogin), WAIT_MS), made[1]!.address)
    const chat = await secureJoin(alice, bob, WAIT_MS)
    const text = `Meet at the north gate at ${new Date().toISOString()}`
    const since = bob.mark()
    await alice.sendText(chat.inviterChatId, text)
    const got = await bob.waitForIncoming((m) => m.text === text, WAIT_MS, since)
    assert.equal(got.message.showPadlock, true)
    const back = 'On my way.'
    const since2 = alice.mark()
    await bob.sendText(chat.joinerChatId, back)
    const got2 = await alice.waitForIncoming((m) => m.text === back, WAIT_MS, since2)
    assert.equal(got2.message.showPadlock, true)
  })

  it('after a power cut the next boot keeps the node, its accounts and its password', async () => {
    await Promise.allSettled(phones.map((p) => p.close()))
    phones.length = 0
    await powerCut()
    // Off: the card shows what the first boot did with the settings file.
    const card = readCard(img, 'outpost-setup.txt')
    assert.doesNotMatch(card, new RegExp(ADMIN), 'the admin password was never on the card')
    assert.match(card, /^# applied name: camp$/m)
    assert.match(card, /^# The hotspot's passphrase, chosen by the box: [a-z2-9-]{19}$/m)
    const grown = execFileSync('sfdisk', ['-d', img], { encoding: 'utf8' })
    const sizes = [...grown.matchAll(/size=\s*(\d+)/g)].map((m) => Number(m[1]))
    assert.ok(sizes[1]! * 512 > 3.5 * 2 ** 30, `the root partition grew to the 4 GiB card: ${grown}`)

    await boot('second boot')
    const login = await api(ports.web, 'POST', '/api/auth/login', { body: { password: ADMIN } })
    assert.equal(login.status, 200, login.body)
    const c = login.cookie ?? ''
    const accounts = JSON.parse((await api(ports.web, 'GET', '/api/accounts', { cookie: c })).body) as { items: { address: string }[] }
    assert.deepEqual(accounts.items.map((a) => a.address).sort(), made.map((m) => m.address).sort())
    // Claimed: this boot's note no longer shows the (spent) setup code.
    assert.doesNotMatch(readCard(img, 'outpost-setup.txt'), /Its setup code/)
  })
})
