// Loads outpost.ini through the plugin's config reader, which watches the
// file and calls back on change, so edited limits apply without a restart.
import type { HarakaPlugin } from './haraka-api.js'
import { parseSettings, type OutpostSettings } from './settings.js'

/**
 * Returns a getter for the current settings. A broken file at start-up
 * throws (Haraka then refuses to start, naming the key); a broken edit later
 * is logged and the last good settings stay in force.
 */
export function watchSettings(plugin: HarakaPlugin, onChange?: (s: OutpostSettings) => void): () => OutpostSettings {
  let current: OutpostSettings | undefined
  const load = (): void => {
    const ini = plugin.config.get('outpost.ini', () => {
      try {
        load()
      } catch (err) {
        plugin.logerror('outpost.ini changed but cannot be used; keeping the previous settings:', err)
      }
    }) as Record<string, Record<string, unknown>>
    current = parseSettings(ini)
    onChange?.(current)
  }
  load()
  return () => current!
}
