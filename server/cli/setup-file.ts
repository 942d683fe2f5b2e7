// `outpost setup-file apply`: the edge of appliance/setup-file.ts. Run as root at
// every boot of the image (outpost-setup.service), before the node and the
// hotspot start. It reads outpost-setup.txt from the card's FAT partition,
// makes the node on the first boot, applies what changed, and writes the
// file back with the secrets removed and a note of what was applied.
//
// The order makes a power cut at any point end well at the next boot:
// 1. the node is made (init writes outpost.toml last, so a cut init is
//    simply done again) and the owner's own values are applied; their
//    secrets are still on the card, so a cut here applies them again;
// 2. the card is written back (tmp file, fsync, rename): secrets gone,
//    the note holds what the box chose for what was left empty;
// 3. what the box chose is applied. A cut between 2 and 3 leaves nothing
//    applied, so the next boot chooses afresh and writes a new note.
// The setup code of an unclaimed web admin is made before the card is
// written (init makes it; it is kept on disk), so the note always shows the
// code the first-run page asks for.
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, mkdirSync, appendFileSync, chmodSync } from 'node:fs'
import { dirname } from 'node:path'
import { exec } from '../base/exec.js'
import { writeFileDurable } from '../base/durable.js'
import { loadConfig, saveConfig } from '../config/file.js'
import { nodePaths } from '../base/paths.js'
import { initNode } from '../node/init.js'
import { openNode } from '../context/context.js'
import { AdminAuth } from '../admin/auth.js'
import { formatSetupCode, SetupCodeFile } from '../admin/setup-code.js'
import { parseSetupFile, planSetup, renderAppliedFile, renderSetupTemplate, passphraseFrom, type SetupCurrent } from '../appliance/setup-file.js'

export interface SetupApplyOptions {
  file: string
  data: string
  /** root's authorized_keys, where ssh_authorized_key goes. */
  authorizedKeys: string
  /** Where the host name is written (/etc/hostname); the unit sets it from there. */
  hostnameFile: string
  /** The box's fixed address on the hotspot: the host name in its accounts' QR codes. */
  host: string
}

function readCurrent(data: string): SetupCurrent {
  const paths = nodePaths(data)
  if (!existsSync(paths.config)) return { initialized: false, adminSet: false }
  const { config } = loadConfig(paths.config, {})
  const node = openNode(data)
  try {
    const h = config.hotspot
    return { initialized: true, name: config.node.name, domain: config.node.domain, hotspot: { ssid: h.ssid, passphrase: h.passphrase, country: h.country, enabled: h.enabled }, adminSet: new AdminAuth(node.db).isSetUp() }
  } finally {
    node.close()
  }
}

function setHotspot(data: string, h: { ssid: string; passphrase: string; country: string }): void {
  const path = nodePaths(data).config
  // Read without environment overrides: what is saved is the file's own.
  const { config } = loadConfig(path, {})
  saveConfig(path, { ...config, hotspot: { ...config.hotspot, enabled: true, ...h } })
}

async function setAdminPassword(data: string, password: string): Promise<void> {
  const node = openNode(data)
  try {
    await new AdminAuth(node.db).setPassword(password)
  } finally {
    node.close()
  }
}

export async function applySetupFile(opts: SetupApplyOptions, log: (line: string) => void = console.log): Promise<number> {
  const present = existsSync(opts.file)
  // No file (deleted by the owner): everything keeps or gets its default,
  // and a fresh documented file is written for next time.
  const text = present ? readFileSync(opts.file, 'utf8') : renderSetupTemplate()
  const current = readCurrent(opts.data)
  const plan = planSetup(parseSetupFile(text), current, () => passphraseFrom(randomBytes(16)))

  // --- 1. the node and the owner's own values -----------------------------
  if (plan.init) {
    await initNode({ data: opts.data, domain: plan.init.domain, name: plan.init.name, host: opts.host }, exec)
    log(`setup: made the node ${plan.init.name} for ${plan.init.domain}`)
  }
  if (plan.hotspot && !plan.generatedPassphrase) setHotspot(opts.data, plan.hotspot)
  if (plan.adminPassword) await setAdminPassword(opts.data, plan.adminPassword)
  // Unclaimed: the code the first-run page asks for, made now if init did not.
  const setupCode = plan.claimWithSetupCode ? formatSetupCode(new SetupCodeFile(nodePaths(opts.data).setupCode).ensure().code) : undefined
  if (plan.sshKey) {
    mkdirSync(dirname(opts.authorizedKeys), { recursive: true, mode: 0o700 })
    const have = existsSync(opts.authorizedKeys) ? readFileSync(opts.authorizedKeys, 'utf8') : ''
    if (!have.split('\n').includes(plan.sshKey)) appendFileSync(opts.authorizedKeys, `${have && !have.endsWith('\n') ? '\n' : ''}${plan.sshKey}\n`, { mode: 0o600 })
    chmodSync(opts.authorizedKeys, 0o600)
  }
  const hostname = existsSync(opts.hostnameFile) ? readFileSync(opts.hostnameFile, 'utf8').trim() : ''
  if (hostname !== plan.hostname) writeFileDurable(opts.hostnameFile, `${plan.hostname}\n`, 0o644)

  // --- 2. the card ----------------------------------------------------------
  const now = new Date()
  const written = renderAppliedFile(text, plan, now, setupCode)
  // Only when something differs besides the note's time stamp: a card
  // that is not written to is not worn, and a note stays readable.
  const sameAs = (a: string, b: string) => a.replace(/^# ==== What the box applied.*$/m, '') === b.replace(/^# ==== What the box applied.*$/m, '')
  if (!present || !sameAs(written, text)) {
    writeFileDurable(opts.file, written, 0o600)
    log(`setup: wrote ${opts.file} back (secrets removed, a note of what was applied at its top)`)
  }

  // --- 3. what the box chose --------------------------------------------------
  if (plan.hotspot && plan.generatedPassphrase) setHotspot(opts.data, plan.hotspot)

  for (const a of plan.applied) log(`setup: applied ${a}`)
  if (plan.generatedPassphrase) log('setup: the box chose the hotspot passphrase; it is written on the card')
  if (setupCode) log('setup: the web admin is not claimed yet; its setup code is written on the card')
  for (const p of plan.problems) log(`setup: NOT applied: ${p}`)
  return 0
}
