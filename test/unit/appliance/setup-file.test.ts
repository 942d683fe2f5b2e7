// outpost-setup.txt as the owner writes it on the card, what the box makes
// of it, and the file the owner finds back after the first boot.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseSetupFile, planSetup, renderAppliedFile, renderSetupTemplate, passphraseFrom, SETUP_KEYS, type SetupCurrent } from '../../../server/appliance/setup-file.js'
import { checkPassphrase } from '../../../server/appliance/hotspot.js'

const FRESH: SetupCurrent = { initialized: false, adminSet: false }
const random = () => 'abcd-efgh-ijkm-npqr'
const WHEN = new Date('2026-12-07T10:00:00Z')

test('the template documents every key, and an untouched template parses to nothing set', () => {
  const t = renderSetupTemplate()
  for (const k of SETUP_KEYS) assert.match(t, new RegExp(`^${k} =$`, 'm'), k)
  const parsed = parseSetupFile(t)
  assert.deepEqual(parsed.values, Object.fromEntries(SETUP_KEYS.map((k) => [k, ''])))
  assert.deepEqual(parsed.warnings, [])
})

test('a file saved by Notepad (BOM, CRLF), with quotes and odd spacing, is read', () => {
  const f = parseSetupFile('\uFEFF# mine\r\nName = Camp\r\n  wifi_passphrase=" has # inside "\r\nWIFI_COUNTRY = fr\r\n')
  assert.deepEqual(f.values, { name: 'Camp', wifi_passphrase: ' has # inside ', wifi_country: 'fr' })
})

test('unknown keys and broken lines are reported, not fatal', () => {
  const f = parseSetupFile('wifi_ssid = Camp\nwifi_password = oops\njust words\nwifi_ssid = Camp2\n')
  assert.equal(f.values.wifi_ssid, 'Camp2')
  assert.equal(f.warnings.length, 3)
  assert.match(f.warnings[0]!, /line 2: unknown key "wifi_password"/)
  assert.match(f.warnings[1]!, /line 3: .* not key = value/)
  assert.match(f.warnings[2]!, /line 4: wifi_ssid is set twice/)
})

test('an empty file on the first boot: defaults, the box chooses the hotspot passphrase, and the web admin waits for its setup code', () => {
  const plan = planSetup(parseSetupFile(''), FRESH, random)
  assert.deepEqual(plan.init, { name: 'outpost', domain: 'outpost.local' })
  assert.equal(plan.hostname, 'outpost')
  assert.deepEqual(plan.hotspot, { enabled: true, ssid: 'Outpost', passphrase: 'abcd-efgh-ijkm-npqr', country: 'DE' })
  assert.equal(plan.generatedPassphrase, 'abcd-efgh-ijkm-npqr')
  // No password is chosen for the owner (none is ever written on the card):
  // the web admin is claimed with the setup code the note shows.
  assert.equal(plan.adminPassword, undefined)
  assert.equal(plan.claimWithSetupCode, true)
  assert.equal(plan.sshKey, undefined)
  assert.deepEqual(plan.problems, [])
})

test("the owner's values are applied; secrets are not echoed in what was applied", () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBase64Key+/= me@laptop'
  const f = parseSetupFile(`name = camp\ndomain = Camp.Example\nwifi_ssid = Camp Café\nwifi_passphrase = correct horse battery\nwifi_country = fr\nadmin_password = s3cret-enough\nssh_authorized_key = ${key}\n`)
  const plan = planSetup(f, FRESH, random)
  assert.deepEqual(plan.init, { name: 'camp', domain: 'camp.example' })
  assert.deepEqual(plan.hotspot, { enabled: true, ssid: 'Camp Café', passphrase: 'correct horse battery', country: 'FR' })
  assert.equal(plan.generatedPassphrase, undefined)
  assert.equal(plan.adminPassword, 's3cret-enough')
  assert.equal(plan.claimWithSetupCode, false)
  assert.equal(plan.sshKey, key)
  const said = plan.applied.join('\n')
  assert.doesNotMatch(said, /correct horse|s3cret/)
})

test('wrong values are not applied, each says why, and the rest still is', () => {
  const f = parseSetupFile('name = Camp Site!\ndomain = not a domain\nwifi_ssid = this ssid is far too long for any wifi\nwifi_passphrase = short\nwifi_country = France\nadmin_password = 123\nssh_authorized_key = my key\n')
  const plan = planSetup(f, FRESH, random)
  assert.deepEqual(plan.init, { name: 'outpost', domain: 'outpost.local' })
  assert.equal(plan.hotspot?.ssid, 'Outpost')
  assert.equal(plan.hotspot?.country, 'DE')
  assert.equal(plan.generatedPassphrase, 'abcd-efgh-ijkm-npqr')
  assert.equal(plan.adminPassword, undefined)
  assert.equal(plan.claimWithSetupCode, true)
  assert.equal(plan.sshKey, undefined)
  const keys = plan.problems.map((p) => p.split(':')[0])
  assert.deepEqual(keys, ['name', 'domain', 'wifi_ssid', 'wifi_country', 'wifi_passphrase', 'admin_password', 'ssh_authorized_key'])
  assert.match(plan.problems[4]!, /8 to 63 characters/)
  assert.match(plan.problems[5]!, /the web admin waits for the setup code instead/)
})

test('a later boot with the secrets removed changes nothing; name and domain cannot change', () => {
  const current: SetupCurrent = { initialized: true, name: 'camp', domain: 'camp.example', hotspot: { ssid: 'Camp', passphrase: 'correct horse battery', country: 'FR', enabled: true }, adminSet: true }
  const same = planSetup(parseSetupFile('name = camp\ndomain = camp.example\nwifi_ssid = Camp\nwifi_passphrase =\nwifi_country = FR\nadmin_password =\n'), current, random)
  assert.equal(same.init, undefined)
  assert.equal(same.hotspot, undefined)
  assert.equal(same.adminPassword, undefined)
  assert.equal(same.claimWithSetupCode, false)
  assert.deepEqual(same.applied, [])
  assert.deepEqual(same.problems, [])
  assert.equal(same.hostname, 'camp')

  const moved = planSetup(parseSetupFile('name = other\ndomain = other.example\nwifi_ssid = New Name\n'), current, random)
  assert.deepEqual(moved.hotspot, { enabled: true, ssid: 'New Name', passphrase: 'correct horse battery', country: 'FR' })
  assert.equal(moved.generatedPassphrase, undefined)
  assert.match(moved.problems[0]!, /^name: .*cannot change/)
  assert.match(moved.problems[1]!, /^domain: .*cannot change/)
})

test('the file written back has no secrets, keeps the rest, and notes what the box chose', () => {
  const text = renderSetupTemplate().replace('wifi_ssid =', 'wifi_ssid = Camp').replace('admin_password =', 'admin_password = s3cret-enough')
  const plan = planSetup(parseSetupFile(text), FRESH, random)
  const back = renderAppliedFile(text, plan, WHEN)
  assert.doesNotMatch(back, /s3cret-enough/)
  assert.match(back, /^admin_password =$/m)
  assert.match(back, /^wifi_ssid = Camp$/m)
  assert.match(back, /^# ==== What the box applied at 2026-12-07T10:00:00Z ====$/m)
  assert.match(back, /^# The hotspot's passphrase, chosen by the box: abcd-efgh-ijkm-npqr$/m)
  assert.doesNotMatch(back, /Its setup code/)
  assert.match(back, /^# applied admin_password: the one written here \(removed from this file\)$/m)

  // Read again at the next boot: nothing to do, and the chosen passphrase
  // stays on the card for the owner; one note, never two.
  const current: SetupCurrent = { initialized: true, name: 'outpost', domain: 'outpost.local', hotspot: { ssid: 'Camp', passphrase: 'abcd-efgh-ijkm-npqr', country: 'DE', enabled: true }, adminSet: true }
  const again = planSetup(parseSetupFile(back), current, () => 'never-used-here')
  assert.deepEqual(again.applied, [])
  assert.equal(again.hotspot, undefined)
  const back2 = renderAppliedFile(back, again, new Date('2026-12-08T10:00:00Z'))
  assert.equal(back2.match(/What the box applied/g)?.length, 1)
  assert.match(back2, /^# The hotspot's passphrase, chosen by the box: abcd-efgh-ijkm-npqr$/m)
  assert.match(back2, /^# nothing changed$/m)

  // The owner writes their own passphrase: the box's note of the old one goes.
  const own = back2.replace(/^wifi_passphrase =$/m, 'wifi_passphrase = correct horse battery')
  const p3 = planSetup(parseSetupFile(own), current, random)
  const back3 = renderAppliedFile(own, p3, WHEN)
  assert.doesNotMatch(back3, /abcd-efgh|correct horse/)
})

test('an unclaimed web admin: the note shows the setup code at every boot until the box is claimed, and never a password', () => {
  const text = renderSetupTemplate()
  const plan = planSetup(parseSetupFile(text), FRESH, random)
  const back = renderAppliedFile(text, plan, WHEN, 'ABCD-EFGH-JKLM-NPQR')
  assert.match(back, /^# The web admin is not claimed yet\. Its setup code: ABCD-EFGH-JKLM-NPQR$/m)
  assert.doesNotMatch(back, /password, chosen/)

  // Still unclaimed at the next boot: the same code, one note.
  const unclaimed: SetupCurrent = { initialized: true, name: 'outpost', domain: 'outpost.local', hotspot: { ssid: 'Outpost', passphrase: 'abcd-efgh-ijkm-npqr', country: 'DE', enabled: true }, adminSet: false }
  const again = planSetup(parseSetupFile(back), unclaimed, random)
  assert.equal(again.claimWithSetupCode, true)
  const back2 = renderAppliedFile(back, again, WHEN, 'ABCD-EFGH-JKLM-NPQR')
  assert.equal(back2.match(/Its setup code/g)?.length, 1)

  // Claimed on the first-run page: the next boot's note has no code.
  const claimed = planSetup(parseSetupFile(back2), { ...unclaimed, adminSet: true }, random)
  assert.equal(claimed.claimWithSetupCode, false)
  assert.doesNotMatch(renderAppliedFile(back2, claimed, WHEN, undefined), /setup code:/)
})

test('a chosen passphrase is one hostapd accepts and a person can type', () => {
  const p = passphraseFrom(new Uint8Array(16).map((_, i) => i * 37))
  assert.match(p, /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/)
  assert.doesNotMatch(p, /[01lo]/)
  checkPassphrase(p)
})
