// Reading and writing outpost.toml. Every key has a default (schema.ts), an
// unknown key warns instead of being silently ignored, a wrong type is an
// error naming the key, and OUTPOST_<SECTION>_<KEY> overrides any key.
import { readFileSync } from 'node:fs'
import { parse } from 'smol-toml'
import { SPEC, defaults, type KeySpec, type NodeConfig } from './schema.js'
import { writeFileDurable } from '../base/durable.js'
import { OutpostError } from '../base/errors.js'

export class ConfigError extends OutpostError {
  override name = 'ConfigError'
}

export interface LoadedConfig {
  config: NodeConfig
  warnings: string[]
}

function coerce(spec: KeySpec, where: string, value: unknown): string | number | boolean {
  if (spec.kind === 'string') {
    if (typeof value !== 'string') throw new ConfigError(`${where}: expected a string, got ${JSON.stringify(value)}`)
    if (spec.oneOf && !spec.oneOf.includes(value)) throw new ConfigError(`${where}: expected one of ${spec.oneOf.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`)
    return value
  }
  if (spec.kind === 'boolean') {
    if (typeof value === 'boolean') return value
    if (value === 'true' || value === '1' || value === 'yes') return true
    if (value === 'false' || value === '0' || value === 'no') return false
    throw new ConfigError(`${where}: expected true or false, got ${JSON.stringify(value)}`)
  }
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new ConfigError(`${where}: expected a whole number, got ${JSON.stringify(value)}`)
  if (spec.min !== undefined && n < spec.min) throw new ConfigError(`${where}: ${n} is below the minimum ${spec.min}`)
  if (spec.max !== undefined && n > spec.max) throw new ConfigError(`${where}: ${n} is above the maximum ${spec.max}`)
  return n
}

/** Merges a parsed TOML document (and the environment) over the defaults. */
export function configFromObject(doc: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, source = 'outpost.toml'): LoadedConfig {
  const node = doc.node as Record<string, unknown> | undefined
  const domain = typeof node?.domain === 'string' ? node.domain : env.OUTPOST_NODE_DOMAIN
  if (!domain) throw new ConfigError(`${source}: [node] domain is required`)
  // A named host spares the default's look at the network interfaces, a
  // measurable part of every command that reads the config.
  const named = [node?.host, env.OUTPOST_NODE_HOST].find((h): h is string => typeof h === 'string' && h !== '')
  const config = defaults(domain, { host: named }) as unknown as Record<string, Record<string, unknown>>
  const warnings: string[] = []
  for (const [section, body] of Object.entries(doc)) {
    const sspec = (SPEC as Record<string, { keys: Record<string, KeySpec> }>)[section]
    if (!sspec) {
      warnings.push(`${source}: unknown section [${section}] is ignored`)
      continue
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ConfigError(`${source}: [${section}] must be a table`)
    for (const [key, value] of Object.entries(body)) {
      const kspec = sspec.keys[key]
      if (!kspec) {
        warnings.push(`${source}: unknown key ${section}.${key} is ignored (known: ${Object.keys(sspec.keys).join(', ')})`)
        continue
      }
      config[section]![key] = coerce(kspec, `${source}: ${section}.${key}`, value)
    }
  }
  for (const [section, sspec] of Object.entries(SPEC as Record<string, { keys: Record<string, KeySpec> }>)) {
    for (const [key, kspec] of Object.entries(sspec.keys)) {
      const name = `OUTPOST_${section}_${key}`.toUpperCase()
      const v = env[name]
      if (v !== undefined && v !== '') config[section]![key] = coerce(kspec, `environment ${name}`, v)
    }
  }
  return { config: config as unknown as NodeConfig, warnings }
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigError(`${path} does not exist: this data dir is not initialised. Run \`outpost init --data DIR --domain DOMAIN\` first.`)
    throw err
  }
  let doc: Record<string, unknown>
  try {
    doc = parse(text) as Record<string, unknown>
  } catch (err) {
    throw new ConfigError(`${path} is not valid TOML: ${(err as Error).message}`)
  }
  return configFromObject(doc, env, path)
}

function tomlValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v)
}

/** The config file as written by `init`: every key present, each with its documentation. */
export function renderConfig(config: NodeConfig): string {
  const out: string[] = ['# Outpost node configuration. Every key is listed with its documentation.', '# Any key can be overridden from the environment as OUTPOST_<SECTION>_<KEY>,', '# for example OUTPOST_PORTS_WEB=9443.', '']
  for (const [section, sspec] of Object.entries(SPEC) as [keyof NodeConfig, { doc: string; keys: Record<string, KeySpec> }][]) {
    out.push(`# ${sspec.doc}`, `[${section}]`)
    for (const [key, kspec] of Object.entries(sspec.keys)) {
      out.push(`# ${kspec.doc}`, `${key} = ${tomlValue((config[section] as Record<string, unknown>)[key])}`)
    }
    out.push('')
  }
  return out.join('\n')
}

export function saveConfig(path: string, config: NodeConfig): void {
  writeFileDurable(path, renderConfig(config), 0o640)
}

/** docs/configuration.md, generated from the same table (a test keeps the two equal). */
export function renderConfigDoc(): string {
  const d = defaults('DOMAIN', { root: false })
  const out = [
    '# Configuration',
    '',
    '`outpost init` writes `outpost.toml` in the data dir with every key below. Any key can be overridden from the environment as `OUTPOST_<SECTION>_<KEY>` (for example `OUTPOST_PORTS_WEB=9443`); the data dir itself comes from `--data` or `$OUTPOST_DATA`. An unknown key is reported at start-up and ignored; a value of the wrong type stops start-up with a message naming the key.',
    '',
    'Ports default to the standard ones (587, 465, 143, 993, 443, and 25 for the gateway inbound port) when `init` runs as root and to high ones (shown below) otherwise.',
    '',
  ]
  for (const [section, sspec] of Object.entries(SPEC) as [keyof NodeConfig, { doc: string; keys: Record<string, KeySpec> }][]) {
    out.push(`## [${section}]`, '', sspec.doc, '', '| key | default | meaning |', '| --- | --- | --- |')
    for (const [key, kspec] of Object.entries(sspec.keys)) {
      const special: Record<string, string> = { 'node.host': 'first non-loopback IPv4 address', 'node.name': 'first label of the domain', 'node.domain': 'required' }
      const def = special[`${section}.${key}`] ?? tomlValue((d[section] as Record<string, unknown>)[key])
      out.push(`| \`${key}\` | \`${def}\` | ${kspec.doc} |`)
    }
    out.push('')
  }
  return out.join('\n')
}
