// Process-tree helpers read from /proc, for "no orphan left behind" checks.
import { readdirSync, readFileSync } from 'node:fs'
import { processAlive, processArgv } from '../../server/base/process-table.js'

function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parens; fields resume after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(rest[1])
  } catch {
    return undefined
  }
}

/** pid and all its descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    const pid = Number(d)
    const pp = ppidOf(pid)
    if (pp === undefined) continue
    children.set(pp, [...(children.get(pp) ?? []), pid])
  }
  const out: number[] = []
  const stack = [root]
  while (stack.length) {
    const p = stack.pop()!
    out.push(p)
    stack.push(...(children.get(p) ?? []))
  }
  return out
}

export const isAlive = processAlive

export function cmdline(pid: number): string {
  return (processArgv(pid) ?? []).join(' ')
}

export async function waitAllGone(pids: number[], timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const alive = pids.filter(isAlive)
    if (alive.length === 0 || Date.now() > deadline) return alive
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Resident memory of the given processes, in bytes. */
export function rssBytes(pids: number[]): number {
  let total = 0
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (m) total += Number(m[1]) * 1024
    } catch {
      /* gone */
    }
  }
  return total
}
