// The NNCP snippets a user pastes into their NNCP config, and the NNCP
// driver's settings and run against a recorded exec seam (no NNCP needed).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { renderNncpExecSnippet, renderNncpAreaSnippet, nncpExecCommand, DEFAULT_NNCP_HANDLER } from '../../../server/transports/nncp-config.js'
import { nncpTransport } from '../../../server/transports/nncp.js'
import { installedOutpostBin } from '../../../server/cli/nncp.js'
import type { Exec } from '../../../server/base/exec.js'
import type { TransportRunContext } from '../../../server/transports/transport.js'

const PATHS = { nodeBinary: '/usr/bin/node', outpostBin: '/usr/lib/outpost/bin/outpost.mjs', dataDir: '/var/lib/outpost' }

/** The `exec: { ... }` block of a snippet, read back as JSON (valid HJSON is what NNCP reads; this block is plain JSON). */
function execBlock(snippet: string): Record<string, string[]> {
  const m = /^exec: (\{\n[^]*?\n\})$/m.exec(snippet)
  assert.ok(m, `no exec block in:\n${snippet}`)
  return JSON.parse(m[1]!) as Record<string, string[]>
}

test('the exec handler runs outpost import - on the given data dir with the running node binary', () => {
  const s = renderNncpExecSnippet({ ...PATHS, neighbour: 'camp' })
  assert.deepEqual(execBlock(s), { 'outpost-import': ['/usr/bin/node', '/usr/lib/outpost/bin/outpost.mjs', 'import', '-', '--data', '/var/lib/outpost'] })
  assert.match(s, /^# Outpost: paste into the neighbour section neigh: \{ camp: \{ \.\.\. \} \}/)
  assert.equal(DEFAULT_NNCP_HANDLER, 'outpost-import')
  // Every line that is not the exec block is a comment: the whole snippet can be pasted as is.
  const outside = s.replace(/^exec: \{\n[^]*?\n\}\n/m, '')
  for (const line of outside.trimEnd().split('\n')) assert.match(line, /^#/, `not a comment: ${line}`)
})

test('paths with spaces and quotes come out quoted, so NNCP reads them whole', () => {
  const s = renderNncpExecSnippet({ ...PATHS, dataDir: '/srv/my "camp" data', handler: 'op-in' })
  assert.deepEqual(execBlock(s)['op-in']!.slice(-2), ['--data', '/srv/my "camp" data'])
})

test('via relays are rendered when given, and only described otherwise; incoming is never set', () => {
  const direct = renderNncpExecSnippet(PATHS)
  assert.match(direct, /^# If this neighbour is reached only through relays, add via/m)
  assert.doesNotMatch(direct, /^via:/m)
  const relayed = renderNncpExecSnippet({ ...PATHS, via: ['hub', 'valley.relay'] })
  assert.match(relayed, /^via: \["hub", "valley\.relay"\]$/m)
  for (const s of [direct, relayed]) {
    assert.doesNotMatch(s, /^incoming:/m)
    assert.match(s, /No "incoming" is needed/)
  }
})

test('relative paths and unusable names are refused with a reason', () => {
  assert.throws(() => nncpExecCommand({ ...PATHS, dataDir: 'data' }), /data dir must be an absolute path, not "data"/)
  assert.throws(() => renderNncpExecSnippet({ ...PATHS, handler: 'import; rm -rf' }), /not a usable NNCP handler name/)
  assert.throws(() => renderNncpExecSnippet({ ...PATHS, via: ['a b'] }), /"a b" is not a usable NNCP node name/)
})

test('the snippet names the bin/outpost.mjs of this installation', () => {
  const bin = installedOutpostBin()
  assert.match(bin, /\/bin\/outpost\.mjs$/)
  assert.ok(existsSync(bin))
})

test('nncp settings: node required, defaults filled, bad values refused; parsed settings parse again to the same', () => {
  assert.throws(() => nncpTransport.parseConfig({}), /setting "node" is required/)
  assert.deepEqual(nncpTransport.parseConfig({ node: 'town' }), { node: 'town', cfg: undefined, handler: 'outpost-import', toss: 'yes' })
  assert.deepEqual(nncpTransport.parseConfig({ node: 'town', cfg: '/etc/nncp/camp.hjson', handler: 'op', toss: 'no' }), { node: 'town', cfg: '/etc/nncp/camp.hjson', handler: 'op', toss: 'no' })
  assert.throws(() => nncpTransport.parseConfig({ node: 'town', cfg: 'nncp.hjson' }), /cfg must be an absolute path/)
  assert.throws(() => nncpTransport.parseConfig({ node: 'town', toss: 'maybe' }), /toss is yes or no/)
  assert.throws(() => nncpTransport.parseConfig({ node: '-town' }), /not an NNCP node name/)
  assert.throws(() => nncpTransport.parseConfig({ node: 'town', via: 'hub' }), /unknown setting "via"/)
  // The transport service stores the parsed settings as JSON and parses them again before each run.
  const stored = JSON.parse(JSON.stringify(nncpTransport.parseConfig({ node: 'town', toss: 'no' }))) as Record<string, string>
  assert.deepEqual(nncpTransport.parseConfig(stored), nncpTransport.parseConfig({ node: 'town', toss: 'no' }))
})

function fakeRun(results: Record<string, { code: number; stderr?: string }>, bundles: Buffer[]) {
  const calls: { file: string; args: readonly string[]; input?: string | Uint8Array }[] = []
  const exec: Exec = async (file, args, opts) => {
    calls.push({ file, args, input: opts?.input })
    const r = results[file] ?? { code: 0 }
    return { code: r.code, stdout: '', stderr: r.stderr ?? '' }
  }
  const exchange = {
    async exportPeer(_peer: string, send: (name: string, bytes: Buffer, header: never) => Promise<string | void>) {
      for (const [i, b] of bundles.entries()) await send(`b${i}.obundle`, b, undefined as never)
      return { peer: 'town', bundles: bundles.length, messages: bundles.length, acks: 0, bytes: bundles.reduce((n, b) => n + b.length, 0), files: [] }
    },
  }
  const ctx = { exchange, exec, peer: 'town', log: () => {} } as unknown as TransportRunContext
  return { ctx, calls }
}

test('a run tosses, then hands each bundle to nncp-exec on stdin as bytes, and reports what it sent', async () => {
  const bundle = Buffer.from([0, 255, 1, 254, 10, 13])
  const { ctx, calls } = fakeRun({ 'nncp-toss': { code: 0, stderr: 'x Got exec from town to outpost-import (2.9 KiB)\nx Got exec from other to outpost-import (1 KiB)\n' } }, [bundle])
  const r = await nncpTransport.run(ctx, nncpTransport.parseConfig({ node: 'town', cfg: '/n/camp.hjson' }))
  assert.deepEqual(calls.map((c) => [c.file, ...c.args]), [
    ['nncp-toss', '-cfg', '/n/camp.hjson', '-noprogress'],
    ['nncp-exec', '-cfg', '/n/camp.hjson', '-noprogress', '-quiet', '-nocompress', 'town', 'outpost-import'],
  ])
  assert.ok(Buffer.from(calls[1]!.input as Uint8Array).equals(bundle), 'the bundle goes to stdin unchanged')
  assert.equal(r.sentBundles, 1)
  assert.equal(r.sentBytes, bundle.length)
  assert.equal(r.receivedBundles, 1)
  assert.match(r.detail, /queued 1 messages and 0 acks in 1 NNCP packets for town; tossed 1 bundles from town/)
})

test('without cfg NNCP\'s default config is used, and toss=no runs no toss', async () => {
  const { ctx, calls } = fakeRun({}, [Buffer.from('x')])
  await nncpTransport.run(ctx, nncpTransport.parseConfig({ node: 'town', toss: 'no' }))
  assert.deepEqual(calls.map((c) => [c.file, ...c.args]), [['nncp-exec', '-noprogress', '-quiet', '-nocompress', 'town', 'outpost-import']])
})

test('a failed nncp-exec fails the run, naming the node and leaving the mail in the outbox', async () => {
  const { ctx } = fakeRun({ 'nncp-exec': { code: 1, stderr: 'ERROR: Invalid neighbour\n' } }, [Buffer.from('x')])
  await assert.rejects(nncpTransport.run(ctx, nncpTransport.parseConfig({ node: 'town' })), /nncp-exec town outpost-import failed for bundle b0\.obundle \(exit 1\): ERROR: Invalid neighbour; .*mail stays in the outbox/)
})

test('a failed toss still sends, then fails the run saying the packets stay in NNCP\'s spool', async () => {
  const { ctx, calls } = fakeRun({ 'nncp-toss': { code: 1, stderr: 'ERROR Tossing exec town/ABC: outpost-import: handling: exit status 75\n' } }, [Buffer.from('x')])
  await assert.rejects(nncpTransport.run(ctx, nncpTransport.parseConfig({ node: 'town' })), /nncp-toss failed \(exit 1\); packets whose import failed stay in NNCP's spool.*exit status 75.*queued 1 messages/)
  assert.equal(calls.filter((c) => c.file === 'nncp-exec').length, 1)
})

const AREA_KEYS = {
  id: 'YSTABDDIHF53VSIV7I7YRN4K3LDLBTJVJBULI2VPRXC3O2S3PARQ',
  pub: '2QY63UKIRAL2VSCZY44NZDOH2VYSLUUE72CF3FTCYNQR5BY73NLQ',
  prv: 'HYJT4NW27T76RPT6AUGJ7O2UUEUR5RO36PLGK7IEVNLMZIJMDNRQ',
}

/** The `areas: { ... }` block of an area snippet with its comments taken out, read back as JSON. */
function areasBlock(snippet: string): Record<string, { id: string; pub: string; prv: string; subs: string[]; exec: Record<string, string[]> }> {
  const body = snippet.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n')
  const m = /^areas: (\{\n[^]*\n\})\n$/m.exec(body)
  assert.ok(m, `no areas block in:\n${snippet}`)
  // HJSON without commas between members: add them to read it as JSON.
  const json = m[1]!.replace(/^(\s*)(id|pub|prv|subs|exec):/gm, '$1"$2":').replace(/("|\]|\})\n(\s*")/g, '$1,\n$2')
  return JSON.parse(json) as ReturnType<typeof areasBlock>
}

test('an area\'s block: its keys, its subscribers, and a handler that imports with --area', () => {
  const s = renderNncpAreaSnippet({ ...PATHS, area: 'valley', subs: ['hub', 'town'], keys: AREA_KEYS })
  assert.deepEqual(areasBlock(s), {
    valley: {
      ...AREA_KEYS,
      subs: ['hub', 'town'],
      exec: { 'outpost-import': ['/usr/bin/node', '/usr/lib/outpost/bin/outpost.mjs', 'import', '-', '--area', 'valley', '--data', '/var/lib/outpost'] },
    },
  })
  // No allow-unknown: NNCP checks each poster's signature against neigh, so every member must be listed there.
  assert.doesNotMatch(s, /allow-unknown/)
  assert.match(s, /must be in neigh/)
})

test('without keys the area block holds placeholders and says where the keys come from', () => {
  const s = renderNncpAreaSnippet({ ...PATHS, area: 'valley', handler: 'op-in' })
  assert.match(s, /nncp-cfgnew -area valley -nocomments/)
  const block = areasBlock(s).valley!
  assert.deepEqual([block.id, block.pub, block.prv], ['ID-FROM-nncp-cfgnew-area', 'PUB-FROM-nncp-cfgnew-area', 'PRV-FROM-nncp-cfgnew-area'])
  assert.deepEqual(block.subs, ['NEIGHBOUR'])
  assert.deepEqual(Object.keys(block.exec), ['op-in'])
})

test('unusable area names, subscribers and keys are refused with a reason', () => {
  assert.throws(() => renderNncpAreaSnippet({ ...PATHS, area: 'a b' }), /"a b" is not a usable NNCP area name/)
  assert.throws(() => renderNncpAreaSnippet({ ...PATHS, area: 'v', subs: ['x;y'] }), /"x;y" is not a usable NNCP node name/)
  assert.throws(() => renderNncpAreaSnippet({ ...PATHS, area: 'v', keys: { ...AREA_KEYS, prv: 'short' } }), /the area's prv "short" is not an NNCP key/)
  assert.throws(() => nncpExecCommand({ ...PATHS, area: '-x' }), /not a usable NNCP area name/)
})

test('with area, a run posts to area:AREA, counts the area\'s packets as tossed, and tosses self so the post reaches the subscribers', async () => {
  const { ctx, calls } = fakeRun({ 'nncp-toss': { code: 0, stderr: 'x Got exec from valley to outpost-import (2.9 KiB)\nx Got exec from town to outpost-import (1 KiB)\n' } }, [Buffer.from('x')])
  const config = nncpTransport.parseConfig({ node: 'town', area: 'valley', cfg: '/n/camp.hjson' })
  assert.equal(config.area, 'valley')
  const r = await nncpTransport.run(ctx, config)
  assert.deepEqual(calls.map((c) => [c.file, ...c.args]), [
    ['nncp-toss', '-cfg', '/n/camp.hjson', '-noprogress'],
    ['nncp-exec', '-cfg', '/n/camp.hjson', '-noprogress', '-quiet', '-nocompress', 'area:valley', 'outpost-import'],
    ['nncp-toss', '-cfg', '/n/camp.hjson', '-noprogress', '-node', 'self'],
  ])
  assert.equal(r.receivedBundles, 1)
  assert.match(r.detail, /in 1 NNCP packets for town in area valley; tossed 1 bundles from area valley/)
  assert.throws(() => nncpTransport.parseConfig({ node: 'town', area: 'a b' }), /area "a b" is not an NNCP area name/)
  // Settings stored before areas existed parse as before: no area.
  assert.equal('area' in nncpTransport.parseConfig({ node: 'town' }), false)
})

test('with area and nothing to send, or toss=no, no self toss runs; a failed post names the area', async () => {
  const empty = fakeRun({}, [])
  await nncpTransport.run(empty.ctx, nncpTransport.parseConfig({ node: 'town', area: 'valley' }))
  assert.deepEqual(empty.calls.map((c) => c.args.at(-1)), ['-noprogress'])
  const noToss = fakeRun({}, [Buffer.from('x')])
  await nncpTransport.run(noToss.ctx, nncpTransport.parseConfig({ node: 'town', area: 'valley', toss: 'no' }))
  assert.deepEqual(noToss.calls.map((c) => c.file), ['nncp-exec'])
  const failed = fakeRun({ 'nncp-exec': { code: 1, stderr: 'ERROR: unknown area\n' } }, [Buffer.from('x')])
  await assert.rejects(nncpTransport.run(failed.ctx, nncpTransport.parseConfig({ node: 'town', area: 'valley' })), /nncp-exec area:valley outpost-import failed .*check that "valley" is in the areas section of the NNCP config/)
})
