// `outpost usb offload DIR`: the USB flow from the command line, which is
// what outpost-usb@.service runs once the stick is mounted. It prints the
// same progress bars as export/import and drives the LED when [gpio] is
// enabled.
import { openNode } from '../node/context.js'
import { resolveDataDir } from '../paths.js'
import { ensureIdentity } from '../identity/keys.js'
import { Exchange } from '../exchange/exchange.js'
import { progressBar } from '../cli/progress.js'
import { detectGpiodVersion, GpiodLed, SimulatedLed, type Led } from './gpio.js'
import { exec } from '../exec.js'
import { DONE_STEADY_MS, LedPatterns } from './led.js'
import { offload } from './usb.js'

export async function cmdUsbOffload(dir: string, data: unknown): Promise<number> {
  const node = openNode(resolveDataDir(data as string | undefined))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  const g = node.config.gpio
  // Without an LED, a simulated one keeps the code path the same.
  let led: Led
  try {
    led = g.enabled ? new GpiodLed({ chip: g.chip, led: g.led }, undefined, await detectGpiodVersion(exec)) : new SimulatedLed()
  } catch (err) {
    node.close()
    throw err
  }
  const patterns = new LedPatterns(led)
  try {
    await ensureIdentity(node.paths)
    const r = await offload(dir, {
      exchange: new Exchange(node),
      led: patterns,
      log: (line) => console.log(line),
      progress: { import: progressBar('import'), export: progressBar('export') },
    })
    if (!r.ok) console.error(`outpost: ${r.error}`)
    // The LED is the only display a box has: hold its last pattern (safe to
    // remove, or error) for a minute before the process lets go of the line.
    if (g.enabled) await new Promise((resolve) => setTimeout(resolve, DONE_STEADY_MS))
    return r.ok ? 0 : 1
  } finally {
    patterns.close()
    led.close()
    node.close()
  }
}
