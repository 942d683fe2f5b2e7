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

/** What a process is, for the report: Node processes are told apart by their command line. */
export function role(pid: number): string {
  const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  if (comm !== 'node') return comm
  // By the script each runs (Haraka's bin, or outpost's), not by any word in
  // the command line: a checkout's or data dir's path may contain either name.
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  if (args.some((a) => /(^|\/)bin\/haraka$/.test(a))) return 'haraka'
  if (args.some((a) => /(^|\/)bin\/outpost(\.mjs)?$/.test(a))) return 'outpost'
  return comm
}

/** RSS per kind of process, largest first ("haraka 95.1 MB, outpost 80.2 MB, dovecot ×7 28.7 MB"). */
export function memoryByRole(pids: number[]): string {
  const groups = new Map<string, { n: number; rss: number }>()
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (!m) continue
      const r = role(pid)
      const g = groups.get(r) ?? { n: 0, rss: 0 }
      g.n++
      g.rss += Number(m[1]) * 1024
      groups.set(r, g)
    } catch {
      // gone
    }
  }
  return [...groups]
    .sort((a, b) => b[1].rss - a[1].rss)
    .map(([name, g]) => `${name}${g.n > 1 ? ` ×${g.n}` : ''} ${mb(g.rss)}`)
    .join(', ')
}

export interface RoleMemory {
  role: string
  processes: number
  rssBytes: number
  pssBytes: number
}

/** RSS and PSS per kind of process, largest RSS first. */
export function memoryPerRole(pids: number[]): RoleMemory[] {
  const groups = new Map<string, RoleMemory>()
  for (const pid of pids) {
    let r: string
    try {
      r = role(pid)
    } catch {
      continue
    }
    const m = memoryOf([pid])
    if (m.processes === 0) continue
    const g = groups.get(r) ?? { role: r, processes: 0, rssBytes: 0, pssBytes: 0 }
    g.processes += m.processes
    g.rssBytes += m.rssBytes
    g.pssBytes += m.pssBytes
    groups.set(r, g)
  }
  return [...groups.values()].sort((a, b) => b.rssBytes - a.rssBytes)
}
