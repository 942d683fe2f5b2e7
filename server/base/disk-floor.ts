// The free-space floor of the data dir. Mail, the outbox, the ledger and
// the quarantine all live on one file system; when it fills, a write can
// fail after the point where a message was already promised. So every step
// that makes a message ours (the 250 in outpost_deliver, a bundle import)
// first checks that the floor plus what it is about to write is free, and
// answers "try again later" (SMTP 452, a deferred import) when it is not.
import { statfsSync } from 'node:fs'

/** Bytes an unprivileged process may still write on the file system of `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir)
  return Number(s.bavail) * Number(s.bsize)
}

/**
 * Undefined when writing `need` bytes keeps `floorBytes` free under `dir`;
 * otherwise what is wrong, in words a person can act on.
 */
export function belowFloor(dir: string, floorBytes: number, need = 0): string | undefined {
  const free = freeBytes(dir)
  if (free - need >= floorBytes) return undefined
  const mib = (n: number) => `${Math.max(0, Math.floor(n / (1024 * 1024)))} MiB`
  return `the disk of ${dir} is nearly full (${mib(free)} free, ${mib(need)} needed, ${mib(floorBytes)} kept free by [storage] min_free_mb); free space by emptying the quarantine or removing old mail`
}
