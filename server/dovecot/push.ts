// How new mail reaches an idling IMAP client: through the outpost_push
// Dovecot plugin (push-plugin/) when a build of it for the installed Dovecot
// exists, or through stock Dovecot's own watch, which waits a hard-coded
// 0.5 s first. Decided once per start; `outpost start` logs which.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { NodePaths } from '../base/paths.js'

/** The plugin's name in mail_plugins; its file is lib20_<name>_plugin.so. */
export const PUSH_PLUGIN = 'outpost_push'
export const PUSH_PLUGIN_FILE = `lib20_${PUSH_PLUGIN}_plugin.so`
/** Set to `stock` to keep Dovecot's own push even when the plugin is built. */
export const PUSH_ENV = 'OUTPOST_DOVECOT_PUSH'

export type IdlePush =
  /** The plugin's file, built for exactly this Dovecot. */
  | { kind: 'plugin'; file: string }
  /** Stock Dovecot, and why. */
  | { kind: 'stock'; why: string }

/**
 * The folder a build for Dovecot `installed` (its `dovecot --version` line)
 * lives in under `builds`: push-plugin/build.sh names it the same way.
 */
export function pushPluginBuildDir(builds: string, installed: string): string {
  return join(builds, installed.trim().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-|-$/g, ''))
}

/**
 * Picks the push for this start. The plugin only when a build for this exact
 * Dovecot is there (a plugin for another ABI makes every IMAP login fail, so
 * "close enough" is not good enough) and `OUTPOST_DOVECOT_PUSH` is not `stock`.
 */
export function choosePush(o: { builds: string; installed: string; env?: NodeJS.ProcessEnv }): IdlePush {
  const setting = o.env?.[PUSH_ENV]
  if (setting === 'stock') return { kind: 'stock', why: `${PUSH_ENV}=stock` }
  if (setting !== undefined && setting !== '' && setting !== 'auto') {
    return { kind: 'stock', why: `${PUSH_ENV}="${setting}" is not "auto" or "stock"` }
  }
  const dir = pushPluginBuildDir(o.builds, o.installed)
  const file = join(dir, PUSH_PLUGIN_FILE)
  const rebuild = 'apt-get install dovecot-dev gcc libc6-dev make, then run server/dovecot/push-plugin/build.sh in the installation'
  let builtFor: string
  try {
    builtFor = readFileSync(join(dir, 'dovecot-version'), 'utf8').trim()
  } catch {
    return { kind: 'stock', why: `the ${PUSH_PLUGIN} plugin is not built for Dovecot ${o.installed.trim()} (no ${dir}): ${rebuild}` }
  }
  if (builtFor !== o.installed.trim() || !existsSync(file)) {
    return { kind: 'stock', why: `${dir} does not hold a complete build for Dovecot ${o.installed.trim()}: ${rebuild}` }
  }
  return { kind: 'plugin', file }
}

/** The one line `outpost start` logs about push. */
export function describePush(push: IdlePush): string {
  return push.kind === 'plugin'
    ? `IDLE push: at once, by the ${PUSH_PLUGIN} Dovecot plugin (${push.file})`
    : `IDLE push: stock Dovecot, after its built-in 0.5 s wait (${push.why})`
}

/** Where the node's own mail_plugin_dir for IMAP is made. */
export function pushModuleDir(paths: NodePaths): string {
  return join(paths.run, 'dovecot-modules')
}

/**
 * Makes the node's own copy of Dovecot's module folder: a symlink to every
 * stock mail plugin (quota and imap_quota are loaded from it as well) and a
 * copy of the plugin. Nothing is written into Dovecot's folder, so running
 * without root works the same as with it, and removing Outpost leaves
 * Dovecot as it was. A copy rather than a link: the imap processes run as
 * the mail user, who may not be allowed into the installation's folder.
 * Made afresh at every start, so an upgraded Dovecot's modules are what
 * the links point at. Returns the folder.
 */
export function preparePushModuleDir(paths: NodePaths, stockModules: string, pluginFile: string): string {
  const dir = pushModuleDir(paths)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  for (const name of readdirSync(stockModules)) {
    if (name.endsWith('.so') && name !== PUSH_PLUGIN_FILE) symlinkSync(join(stockModules, name), join(dir, name))
  }
  copyFileSync(pluginFile, join(dir, PUSH_PLUGIN_FILE))
  return dir
}
