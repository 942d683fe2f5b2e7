// Running Haraka as a supervised child of `outpost start`.
//
// The supervisor should spawn { command, args, env } from harakaSpawnArgs
// with stdio ['ignore', 'pipe', 'pipe', 'ipc']: Haraka logs to stdout and
// stderr, and the IPC channel is how it notices that the supervisor is gone
// (lib/lifecycle.ts exits on 'disconnect'). Haraka writes its own pid to
// run/haraka.pid; stop it with SIGTERM, which ends it at once (it handles
// only SIGINT gracefully, and nothing of ours needs a graceful end: a
// message is either answered 250 after Dovecot stored it, or not at all).
import { readFileSync, readdirSync, unlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { NodePaths } from '../base/paths.js'
import { processAlive, processArgv } from '../base/process-table.js'
import { harakaPidFile } from './config.js'
import { HARAKA_NODE_FLAGS } from '../base/v8-flags.js'

export { renderHarakaConfig, writeHarakaConfig, harakaPidFile, OUTPOST_PLUGINS, type HarakaConfigInput } from './config.js'

export interface SpawnArgs {
  command: string
  args: string[]
  env: NodeJS.ProcessEnv
}

export function harakaBin(): string {
  return createRequire(import.meta.url).resolve('Haraka/bin/haraka')
}

export function harakaSpawnArgs(paths: NodePaths, baseEnv: NodeJS.ProcessEnv = process.env): SpawnArgs {
  const env = { ...baseEnv }
  // Set by `node --test` for its own children; Haraka is not one of its tests.
  delete env.NODE_TEST_CONTEXT
  return { command: process.execPath, args: [...HARAKA_NODE_FLAGS, harakaBin(), '-c', paths.harakaDir], env }
}

/** A Haraka of this node: its command line names Haraka's bin and this node's Haraka dir after -c. */
export function isOurHaraka(argv: readonly string[] | null, harakaDir: string): boolean {
  if (!argv) return false
  const c = argv.indexOf('-c')
  return c !== -1 && argv[c + 1] === harakaDir && argv.some((a, i) => i !== c + 1 && /(^|\/)bin\/haraka$/.test(a))
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Stops any Haraka left running for this node by an earlier run: the one in
 * the pid file, and any other whose command line names this node's Haraka
 * dir (a lost pid file must not leave the ports taken). A pid that now
 * belongs to another program is left alone. Returns the pids stopped.
 */
export async function stopStaleHaraka(paths: NodePaths, opts: { timeoutMs?: number } = {}): Promise<number[]> {
  const pidFile = harakaPidFile(paths)
  const candidates = new Set<number>()
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim())
    if (Number.isInteger(pid) && pid > 0) candidates.add(pid)
  } catch {
    // No pid file: nothing recorded, the scan below still looks.
  }
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry)) candidates.add(Number(entry))
  }
  candidates.delete(process.pid)
  const ours = [...candidates].filter((pid) => isOurHaraka(processArgv(pid) ?? null, paths.harakaDir))
  for (const pid of ours) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      // It ended by itself in the meantime.
    }
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 5000)
  while (ours.some(processAlive) && Date.now() < deadline) await sleep(50)
  for (const pid of ours.filter(processAlive)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Gone.
    }
  }
  try {
    unlinkSync(pidFile)
  } catch {
    // There was none.
  }
  return ours
}
