// Memory of a set of processes from /proc. RSS counts shared pages (libc, the
// Node binary, Dovecot's libraries) once per process, so the sum overstates
// what the box really spends; PSS splits shared pages between their users and
// is printed beside it for that reason.
import { readFileSync } from 'node:fs'
import { processTree } from '../test/helpers/procs.js'

export interface TreeMemory {
  processes: number
  rssBytes: number
  pssBytes: number
}

export function treeOf(roots: Array<number | undefined>): number[] {
  const all = new Set<number>()
  for (const r of roots) if (r !== undefined) for (const p of processTree(r)) all.add(p)
  return [...all]
}

export function memoryOf(pids: number[]): TreeMemory {
  let rss = 0
  let pss = 0
  let processes = 0
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      const r = /VmRSS:\s+(\d+) kB/.exec(status)
      // Kernel threads and zombies have no VmRSS; they cost nothing here.
      if (!r) continue
      rss += Number(r[1]) * 1024
      processes++
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
      const p = /^Pss:\s+(\d+) kB/m.exec(rollup)
      if (p) pss += Number(p[1]) * 1024
    } catch {
      // The process ended between listing and reading.
    }
  }
  return { processes, rssBytes: rss, pssBytes: pss }
}

export function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`
}

/** Names of the processes, grouped, for the report ("dovecot ×9, node ×2"). */
export function processNames(pids: number[]): string {
  const counts = new Map<string, number>()
  for (const pid of pids) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
      counts.set(comm, (counts.get(comm) ?? 0) + 1)
    } catch {
      // gone
    }
  }
  return [...counts].map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(', ')
}
