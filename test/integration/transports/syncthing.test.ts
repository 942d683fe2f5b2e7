// The Syncthing transport between two real nodes and two real Syncthing
// instances, linked to each other on loopback only: mail from camp reaches
// town exactly once, and the acks come back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, type TestNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { befriend } from '../../helpers/stick.js'
import { freePort } from '../../helpers/ports.js'
import { syncthingFolderState } from '../../../server/transports/syncthing.js'
import { waitFor } from '../../helpers/wait.js'

interface Syncthing {
  home: string
  deviceId: string
  apiKey: string
  api: string
  listen: string
  proc: ChildProcess
  log(): string
  stop(): Promise<void>
}

function setOption(xml: string, tag: string, value: string): string {
  const re = new RegExp(`<${tag}>[^<]*</${tag}>`)
  assert.match(xml, re, `config.xml has <${tag}>`)
  return xml.replace(re, `<${tag}>${value}</${tag}>`)
}

/** A Syncthing instance that talks to nothing but 127.0.0.1. */
async function startSyncthing(home: string): Promise<Syncthing> {
  const env = { ...process.env, STNOUPGRADE: '1', STNODEFAULTFOLDER: '1', HOME: home }
  execFileSync('syncthing', ['generate', `--home=${home}`, '--no-default-folder', '--skip-port-probing'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const guiPort = await freePort()
  const listenPort = await freePort()
  const configFile = join(home, 'config.xml')
  let xml = readFileSync(configFile, 'utf8')
  // Everything that could reach past loopback is off before the first start:
  // discovery (global servers and LAN broadcasts), relays, NAT/UPnP and STUN,
  // usage and crash reports, upgrades.
  xml = xml.replace(/<address>127\.0\.0\.1:\d+<\/address>/, `<address>127.0.0.1:${guiPort}</address>`)
  xml = setOption(xml, 'listenAddress', `tcp://127.0.0.1:${listenPort}`)
  xml = setOption(xml, 'globalAnnounceEnabled', 'false')
  xml = setOption(xml, 'localAnnounceEnabled', 'false')
  xml = setOption(xml, 'relaysEnabled', 'false')
  xml = setOption(xml, 'natEnabled', 'false')
  xml = setOption(xml, 'stunKeepaliveStartS', '0')
  xml = setOption(xml, 'urAccepted', '-1')
  xml = setOption(xml, 'crashReportingEnabled', 'false')
  xml = setOption(xml, 'autoUpgradeIntervalH', '0')
  xml = setOption(xml, 'startBrowser', 'false')
  writeFileSync(configFile, xml)
  const apiKey = /<apikey>([^<]+)<\/apikey>/.exec(xml)?.[1]
  const deviceId = /<device id="([^"]+)"/.exec(xml)?.[1]
  assert.ok(apiKey && deviceId, 'syncthing generate wrote an API key and a device ID')

  let out = ''
  const proc = spawn('syncthing', ['serve', `--home=${home}`, '--no-browser', '--no-restart', '--no-upgrade'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const api = `http://127.0.0.1:${guiPort}`
  const st: Syncthing = {
    home,
    deviceId,
    apiKey,
    api,
    listen: `tcp://127.0.0.1:${listenPort}`,
    proc,
    log: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const exited = new Promise<void>((r) => proc.once('exit', () => r()))
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
  try {
    await waitFor("Syncthing's API to answer", async () => {
      if (proc.exitCode !== null) throw new Error(`syncthing exited (${proc.exitCode}) before it answered:\n${out}`)
      try {
        return (await fetch(`${api}/rest/system/ping`, { headers: { 'X-API-Key': apiKey } })).ok
      } catch {
        return false // not listening yet
      }
    }, { timeoutMs: 30_000, everyMs: 200, explain: () => `syncthing said:\n${out}` })
  } catch (err) {
    // A Syncthing that did not start is stopped here: the caller never gets it to stop.
    await st.stop()
    throw err
  }
  return st
}

async function rest(st: Syncthing, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${st.api}${path}`, {
    method,
    headers: { 'X-API-Key': st.apiKey, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.text()
  assert.ok(r.ok, `${method} ${path}: HTTP ${r.status} ${text}`)
  return text ? JSON.parse(text) : undefined
}

/** Shares FOLDER (one per side) as folder ID between the two instances, each knowing the other at its loopback address only. */
async function link(a: Syncthing, b: Syncthing, id: string, folders: [string, string]): Promise<void> {
  for (const [self, other, path] of [[a, b, folders[0]], [b, a, folders[1]]] as const) {
    await rest(self, 'POST', '/rest/config/devices', { deviceID: other.deviceId, name: other === a ? 'a' : 'b', addresses: [other.listen] })
    await rest(self, 'POST', '/rest/config/folders', {
      id,
      label: 'outpost',
      path,
      type: 'sendreceive',
      devices: [{ deviceID: self.deviceId }, { deviceID: other.deviceId }],
      // The watcher stays on as it is in the field, but with an hour's delay
      // (the field's is 10 s), as is the periodic rescan: within the test's
      // bounds only the transport's own rescan can make a bundle cross.
      fsWatcherEnabled: true,
      fsWatcherDelayS: 3600,
      rescanIntervalS: 3600,
    })
  }
}


async function run(node: TestNode): Promise<string> {
  const r = await node.cli(['transport', 'run', '1'])
  assert.equal(r.code, 0, `transport run on ${node.domain}: ${r.stdout}${r.stderr}`)
  return r.stdout
}

test('syncthing transport: mail crosses two real Syncthing instances once, and the acks come back', { timeout: 300_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'op-st-'))
  const syncthings: Syncthing[] = []
  let camp: TestNode | undefined
  let town: TestNode | undefined
  try {
    const stCamp = await startSyncthing(join(root, 'st-camp'))
    syncthings.push(stCamp)
    const stTown = await startSyncthing(join(root, 'st-town'))
    syncthings.push(stTown)
    const folders: [string, string] = [join(root, 'shared-camp'), join(root, 'shared-town')]
    for (const f of folders) mkdirSync(f)
    await link(stCamp, stTown, 'outpost-camp-town', folders)
    await waitFor('the two Syncthing instances to connect', async () => {
      const c = (await rest(stCamp, 'GET', '/rest/system/connections')) as { connections: Record<string, { connected: boolean; address: string }> }
      const conn = c.connections[stTown.deviceId]
      if (!conn?.connected) return undefined
      assert.match(conn.address, /^127\.0\.0\.1:/, 'the link runs over loopback')
      return true
    })

    camp = await startNode({ domain: 'camp.test' })
    town = await startNode({ domain: 'town.test' })
    await befriend(camp, town)
    const alice = await camp.addAccount('alice')
    const bob = await town.addAccount('bob')

    let r = await camp.cli(['transport', 'add', 'town', 'syncthing', '--set', `folder=${folders[0]}`, '--set', 'folder_id=outpost-camp-town', '--set', 'api=not a url', '--set', `api_key=${stCamp.apiKey}`])
    assert.match(r.stderr, /api must be a URL/)
    // Once a year: the test runs the transports itself.
    const yearly = ['--schedule', '0 0 1 1 *']
    r = await camp.cli(['transport', 'add', 'town', 'syncthing', '--set', `folder=${folders[0]}`, '--set', 'folder_id=outpost-camp-town', '--set', `api=${stCamp.api}`, '--set', `api_key=${stCamp.apiKey}`, ...yearly])
    assert.equal(r.code, 0, r.stderr)
    const campId = /added transport (\d+)/.exec(r.stdout)?.[1]
    r = await town.cli(['transport', 'add', 'camp', 'syncthing', '--set', `folder=${folders[1]}`, '--set', 'folder_id=outpost-camp-town', '--set', `api=${stTown.api}`, '--set', `api_key=${stTown.apiKey}`, ...yearly])
    assert.equal(r.code, 0, r.stderr)
    const runCamp = async () => {
      const x = await camp!.cli(['transport', 'run', campId!])
      assert.equal(x.code, 0, `camp run: ${x.stdout}${x.stderr}`)
      return x.stdout
    }

    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'by syncthing', text: 'hello over syncthing\n', messageId: '<st1@camp.test>' })
    c.close()
    assert.match(await runCamp(), /sent 1 messages .* Syncthing rescanned/)

    // Town runs its transport until the bundle has come over and been
    // applied. The watcher and the periodic scan wait an hour, so only the
    // transport's rescan can have made it cross within this bound.
    await waitFor('the message on town', async () => {
      await run(town!)
      return messageIdCounts(town!.data, bob.address).get('<st1@camp.test>') ? true : undefined
    })

    // Town's run that imported the mail also wrote the ack; camp applies it.
    await waitFor('the ack on camp', async () => {
      await runCamp()
      const q = await camp!.cli(['queue'])
      return /the outbox is empty/.test(q.stdout) ? true : undefined
    })
    // More runs change nothing: the message is there once.
    await run(town)
    assert.equal(messageIdCounts(town.data, bob.address).get('<st1@camp.test>'), 1)

    const state = await syncthingFolderState({ api: stTown.api, api_key: stTown.apiKey, folder_id: 'outpost-camp-town' })
    assert.equal(state.errors, 0)
    assert.ok(['idle', 'scanning', 'syncing', 'sync-preparing', 'scan-waiting', 'sync-waiting'].includes(state.state), state.state)
    await assert.rejects(syncthingFolderState({ api: stTown.api, api_key: 'wrong', folder_id: 'outpost-camp-town' }), /refused the API key/)
    // The CLI shows Syncthing's view of the folder beside the transport.
    const list = await town.cli(['transport', 'list'])
    assert.match(list.stdout, /syncthing folder outpost-camp-town: [a-z-]+, \d+ files \([\d.]+ [KM]?i?B\) still to fetch/)
    // The API key is a secret: the list masks it, as the web admin does.
    assert.ok(!list.stdout.includes(stTown.apiKey), 'the Syncthing API key is not printed')
  } finally {
    await Promise.all([camp?.destroy(), town?.destroy(), ...syncthings.map((s) => s.stop())])
    rmSync(root, { recursive: true, force: true })
  }
})
