// CPU time per kind of process over a stretch of a benchmark, from /proc.
// Wall-clock rates on a shared 2-core machine follow the load; the CPU each
// process spends per message does much less, and says where the time goes.
import { readFileSync } from 'node:fs'
import { role, treeOf } from './memory.js'

/** Clock ticks per second in /proc/PID/stat (USER_HZ; 100 on Linux everywhere we run). */
const HZ = 100

export interface ProcessCpu {
  role: string
  ppid: number
  /** utime + stime, seconds. */
  own: number
  /** cutime + cstime: children this process has reaped (Dovecot's ended lmtp processes, Postfix's ended smtpd). */
  reaped: number
}

export type CpuSnapshot = Map<number, ProcessCpu>

/** A process's CPU from /proc/PID/stat; undefined once it has gone. */
export function processCpu(pid: number): ProcessCpu | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Fields 14-17 of proc(5), counted here from the state field (3).
    return { role: role(pid), ppid: Number(f[1]), own: (Number(f[11]) + Number(f[12])) / HZ, reaped: (Number(f[13]) + Number(f[14])) / HZ }
  } catch {
    return undefined
  }
}

/** Every process under the given roots, as they are now. */
export function cpuSnapshot(roots: Array<number | undefined>): CpuSnapshot {
  const snap: CpuSnapshot = new Map()
  for (const pid of treeOf(roots)) {
    const c = processCpu(pid)
    if (c) snap.set(pid, c)
  }
  return snap
}

/**
 * CPU seconds per kind of process between two snapshots. A process that
 * started in between counts from zero; one that ended in between is counted
 * in its parent's reaped time, under "<parent> (ended children)", less what
 * it had spent before the first snapshot. Reaped time can only be seen
 * through a parent that is under the roots at the second snapshot.
 */
export function cpuByRole(before: CpuSnapshot, after: CpuSnapshot): Map<string, number> {
  const out = new Map<string, number>()
  const add = (r: string, s: number) => {
    if (s > 0) out.set(r, (out.get(r) ?? 0) + s)
  }
  const reaped = new Map<string, number>()
  for (const [pid, a] of after) {
    const b = before.get(pid)
    const same = b && b.role === a.role
    add(a.role, a.own - (same ? b.own : 0))
    const r = `${a.role} (ended children)`
    reaped.set(r, (reaped.get(r) ?? 0) + a.reaped - (same ? b.reaped : 0))
  }
  // A process that ended in between brings its whole life's CPU into its
  // parent's reaped time (Dovecot ends idle lmtp processes after 10 s, which
  // may fall into the next run): only what it spent since the first
  // snapshot belongs here.
  for (const [pid, b] of before) {
    if (after.has(pid)) continue
    const parent = after.get(b.ppid)
    if (!parent) continue
    const r = `${parent.role} (ended children)`
    reaped.set(r, (reaped.get(r) ?? 0) - b.own - b.reaped)
  }
  for (const [r, s] of reaped) add(r, s)
  return out
}

/** "haraka 4.61, lmtp 1.20, …" in ms per message, largest first, and the total. */
export function perMessage(byRole: Map<string, number>, messages: number): { total: number; line: string } {
  const rows = [...byRole].map(([r, s]) => [r, (s * 1000) / messages] as const).sort((x, y) => y[1] - x[1])
  const total = rows.reduce((a, [, v]) => a + v, 0)
  return { total, line: rows.filter(([, v]) => v >= 0.05).map(([r, v]) => `${r} ${v.toFixed(2)}`).join(', ') }
}

/** The machine's CPU seconds in use (all cores, everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / HZ
}
