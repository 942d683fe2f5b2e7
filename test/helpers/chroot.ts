// A throwaway Debian root for tests that install Outpost the way a user
// does (the .deb, the quick start): what runs in it and what is mounted
// under it, and taking it down without harming the host.
import { execFile, type ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs'

/** Processes whose root directory is inside `root` (what chroot started). */
export function processesIn(root: string): number[] {
  const pids: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      const r = readlinkSync(`/proc/${p}/root`)
      if (r === root || r.startsWith(`${root}/`)) pids.push(Number(p))
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids
}

export function mountsUnder(root: string): string[] {
  return readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m === root || m.startsWith(`${root}/`))
}

/**
 * Stops `node` (SIGTERM, a moment's grace), kills anything else still running
 * from `root` (a Dovecot or Haraka child that outlived it), unmounts what is
 * mounted under it, and deletes `work`. Never deletes through a mount that
 * is still there: it could be the host's /proc.
 */
export async function tearDownRoot(root: string, work: string, node?: ChildProcess): Promise<void> {
  if (node && node.exitCode === null && node.signalCode === null) {
    node.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 3000))
  }
  for (const pid of processesIn(root)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      /* already gone */
    }
  }
  for (const m of mountsUnder(root).reverse()) await new Promise((r) => execFile('umount', ['-l', m], () => r(undefined)))
  const left = mountsUnder(root)
  if (left.length) throw new Error(`not deleting ${root}: still mounted: ${left.join(', ')}`)
  rmSync(work, { recursive: true, force: true })
}
