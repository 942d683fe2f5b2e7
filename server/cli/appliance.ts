// The appliance's commands:
// - `outpost usb offload DIR`: the USB flow, which outpost-usb@.service runs
//   once the stick is mounted. It prints the same progress bars as
//   export/import and records its outcome as events; the LED is the
//   appliance daemon's, which follows those events.
// - `outpost appliance run`: that daemon (outpost-appliance.service), which
//   owns the LED and the button.
import { openNode } from '../context/context.js'
import { resolveDataDir } from '../base/paths.js'
import { ensureIdentity } from '../identity/keys.js'
import { Exchange, exchangeServices } from '../exchange/exchange.js'
import { EventLog } from '../events/log.js'
import { formatBytes, progressBar } from './progress.js'
import { openGpiod, SimulatedButton, SimulatedLed, type Button, type Led } from '../appliance/gpio.js'
import { exec } from '../base/exec.js'
import { LedPatterns } from '../appliance/led.js'
import { existsSync } from 'node:fs'
import { offloadAndRecord } from '../appliance/usb.js'
import { ApplianceDaemon } from '../appliance/daemon.js'

export async function cmdUsbOffload(dir: string, data: unknown): Promise<number> {
  const node = openNode(resolveDataDir(data as string | undefined))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  // This process never touches GPIO (the daemon owns the LED); a simulated
  // LED keeps the offload's code path the same.
  const patterns = new LedPatterns(new SimulatedLed())
  try {
    await ensureIdentity(node.paths)
    const exchange = new Exchange(node, exchangeServices(node))
    // Into the events table: the running node's web admin and the appliance
    // daemon (the LED) follow how the offload went.
    const r = await offloadAndRecord(dir, {
      exchange,
      led: patterns,
      events: new EventLog(node.db),
      log: (line) => console.log(line),
      progress: { import: progressBar('import', process.stderr, (done, total) => `${formatBytes(done)} of ${formatBytes(total)}`), export: progressBar('export') },
    })
    if (!r.ok) console.error(`outpost: ${r.error}`)
    return r.ok ? 0 : 1
  } finally {
    patterns.close()
    node.close()
  }
}

export async function cmdApplianceRun(data: unknown): Promise<number> {
  const node = openNode(resolveDataDir(data as string | undefined))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  const g = node.config.gpio
  let led: Led
  let button: Button
  try {
    if (g.enabled) {
      const real = await openGpiod({ chip: g.chip, led: g.led, button: g.button, longPressMs: g.long_press_ms }, exec)
      console.log(`outpost appliance: LED on ${g.chip} line ${g.led}, button on line ${g.button} (libgpiod ${real.version === 1 ? '1.6' : '2'})`)
      led = real.led
      button = real.button
    } else {
      // Without GPIO the daemon still records sticks that are pulled, for the web admin.
      console.log('outpost appliance: [gpio] enabled = false: no LED or button; following USB sticks only')
      led = new SimulatedLed()
      button = new SimulatedButton()
    }
  } catch (err) {
    node.close()
    throw err
  }
  const readyFile = process.env.OUTPOST_READY_FILE
  const daemon = new ApplianceDaemon({
    events: new EventLog(node.db),
    led: new LedPatterns(led),
    button,
    exec,
    log: (line) => console.log(line),
    // Set by the image (outpost-appliance.service's drop-in): the file that
    // outpost-ready.service leaves once the node answers.
    ...(readyFile ? { nodeReady: () => existsSync(readyFile) } : {}),
  })
  daemon.start()
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  // A press being handled (an offload, a shutdown) is let finish first.
  await daemon.idle()
  daemon.stop()
  // Lets go of the LED line once its last state (off) is set.
  if ('settled' in led) await (led as { settled(): Promise<void> }).settled()
  led.close()
  node.close()
  return 0
}

/**
 * `outpost hotspot apply`: as root, from outpost-hotspot.service. Reads
 * outpost.toml only, never the database: a root process must not create
 * the database's -wal or -shm files, which the node could then not open.
 */
export async function cmdHotspotApply(data: unknown): Promise<number> {
  const { loadConfig } = await import('../config/file.js')
  const { nodePaths } = await import('../base/paths.js')
  const { applyHotspot } = await import('../appliance/hotspot-apply.js')
  const paths = nodePaths(resolveDataDir(data as string | undefined))
  const { config, warnings } = loadConfig(paths.config)
  for (const w of warnings) console.error(`warning: ${w}`)
  // Under systemd (INVOCATION_ID is set for every unit it runs), that is
  // outpost-hotspot.service: hostapd and dnsmasq start after it ends.
  await applyHotspot(config, { exec, log: (line) => console.log(line), queueStarts: process.env.INVOCATION_ID !== undefined })
  return 0
}
