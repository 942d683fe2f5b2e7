// A folder standing in for a USB stick carried between nodes.
import type { TestNode } from './node.js'
import assert from 'node:assert/strict'

/** Exchanges cards both ways, so each node trusts the other. */
export async function befriend(a: TestNode, b: TestNode): Promise<void> {
  for (const [x, y] of [[a, b], [b, a]] as const) {
    const card = await x.cli(['card', '--text'])
    assert.equal(card.code, 0, card.stderr)
    const add = await y.cli(['peer', 'add', card.stdout.trim()])
    assert.equal(add.code, 0, add.stderr)
  }
}

/** Plugs the stick into `from` (export) and then into `to` (import). */
export async function carry(stick: string, from: TestNode, to: TestNode): Promise<void> {
  const exp = await from.cli(['export', stick])
  assert.equal(exp.code, 0, `export on ${from.domain}: ${exp.stderr}`)
  const imp = await to.cli(['import', stick])
  assert.ok(imp.code === 0, `import on ${to.domain}: ${imp.stdout}${imp.stderr}`)
}

/** Carries the stick back and forth between the nodes until `done` settles (or the rounds run out). */
export async function shuttleUntil<T>(stick: string, a: TestNode, b: TestNode, done: Promise<T>, rounds = 40): Promise<T> {
  let settled = false
  const watched = done.finally(() => {
    settled = true
  })
  for (let i = 0; i < rounds && !settled; i++) {
    await carry(stick, a, b)
    await carry(stick, b, a)
    // Give the phones a moment to fetch what arrived and to answer it; no
    // more carrying once `done` has settled.
    await Promise.race([watched.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))])
  }
  return watched
}

export interface CampAndTown {
  camp: TestNode
  town: TestNode
  /** A fresh folder standing in for the USB stick. */
  stick: string
  alice: { address: string; password: string }
  bob: { address: string; password: string }
  /** Stops both nodes and removes the stick. */
  destroy(): Promise<void>
}

/** The usual scene: node camp with alice, node town with bob, peers of each other, and an empty stick. */
export async function campAndTown(opts: { campEnv?: Record<string, string> } = {}): Promise<CampAndTown> {
  const { startNode } = await import('./node.js')
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const camp = await startNode({ domain: 'camp.test', env: opts.campEnv })
  const town = await startNode({ domain: 'town.test' }).catch(async (err) => {
    await camp.destroy()
    throw err
  })
  const stick = mkdtempSync(join(tmpdir(), 'op-stick-'))
  const destroy = async () => {
    rmSync(stick, { recursive: true, force: true })
    await Promise.all([camp.destroy(), town.destroy()])
  }
  try {
    await befriend(camp, town)
    return { camp, town, stick, alice: await camp.addAccount('alice'), bob: await town.addAccount('bob'), destroy }
  } catch (err) {
    await destroy()
    throw err
  }
}
