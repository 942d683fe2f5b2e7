// Real NNCP in tests: a tool run with its exit code, and keys made by
// nncp-cfgnew the way a user makes them (a node's, or a multicast area's).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { NncpAreaKeys } from '../../server/transports/nncp-config.js'

export interface Ran {
  code: number
  stdout: string
  stderr: string
}

/** Runs a program (two minutes at most) and gives its exit code and output; input, if any, goes to its stdin. */
export function runTool(file: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...opts.env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      resolve({ code, stdout, stderr })
    })
    // A command that refuses before it reads its input (a sender it will not
    // take) closes the pipe first; its exit code is the answer, not EPIPE.
    child.stdin?.on('error', () => undefined)
    child.stdin?.end(opts.input ?? '')
  })
}

/** runTool that must succeed; gives stdout and stderr together (NNCP logs to stderr). */
export async function mustRun(file: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}): Promise<string> {
  const r = await runTool(file, args, opts)
  assert.equal(r.code, 0, `${file} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}${r.stdout}`)
  return r.stdout + r.stderr
}

export interface NncpKeys {
  id: string
  exchpub: string
  exchprv: string
  signpub: string
  signprv: string
  noiseprv: string
  noisepub: string
}

/** The `name: value` lines nncp-cfgnew printed between two markers. */
function keysBetween(out: string, from: string, to: string | undefined, names: string[]): Record<string, string> {
  const part = out.slice(out.indexOf(from), to ? out.indexOf(to) : undefined)
  const keys: Record<string, string> = {}
  for (const m of part.matchAll(/^\s*([a-z]+):\s*([A-Z2-7]+)\s*$/gm)) if (names.includes(m[1]!)) keys[m[1]!] = m[2]!
  for (const k of names) assert.ok(keys[k], `nncp-cfgnew printed no ${k}`)
  return keys
}

/** A fresh node: the keys of nncp-cfgnew's self section. */
export async function newNncpKeys(): Promise<NncpKeys> {
  const out = await mustRun('nncp-cfgnew', ['-nocomments'])
  return keysBetween(out, 'self:', 'neigh:', ['id', 'exchpub', 'exchprv', 'signpub', 'signprv', 'noiseprv', 'noisepub']) as unknown as NncpKeys
}

/** A multicast area's keys, made once for a group. */
export async function newNncpAreaKeys(area: string): Promise<NncpAreaKeys> {
  const out = await mustRun('nncp-cfgnew', ['-area', area, '-nocomments'])
  return keysBetween(out, `${area}:`, undefined, ['id', 'pub', 'prv']) as unknown as NncpAreaKeys
}

/** What other nodes list for this one in their neigh section. */
export const nncpPublic = (k: NncpKeys) => ({ id: k.id, exchpub: k.exchpub, signpub: k.signpub, noisepub: k.noisepub })

/**
 * The opening lines of a test node's NNCP config, up to its own entry in
 * neigh: a private spool and log under dir (made here), its keys. The caller
 * adds its neighbours, closes neigh, and adds what else it needs.
 */
export function nncpConfigHead(dir: string, self: NncpKeys): string[] {
  mkdirSync(join(dir, 'spool'), { recursive: true })
  return [
    '{',
    `  spool: ${JSON.stringify(join(dir, 'spool'))}`,
    `  log: ${JSON.stringify(join(dir, 'log'))}`,
    '  noprogress: true',
    `  self: ${JSON.stringify(self)}`,
    '  neigh: {',
    `    self: ${JSON.stringify(nncpPublic(self))}`,
  ]
}
