// docs/web-api.md's endpoint tables, generated from the routes' own schemas:
//   npm run doc:web-api        rewrites the generated parts of docs/web-api.md
// It builds the web app (never listening) on a throwaway node and collects
// every route as Fastify adds it, with its schema. The doc's prose stays as
// written; each generated part sits between markers that name the paths it
// lists, and a unit test fails when the doc and this output differ.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RouteOptions } from 'fastify'
import { initNode } from '../server/node/init.js'
import { openNode } from '../server/context/context.js'
import { exec } from '../server/base/exec.js'
import { buildApp } from '../server/web/app.js'
import { createWebServices } from '../server/web/plugins/services.js'
import { isPublicRoute } from '../server/web/plugins/auth.js'
import * as contract from '../server/web/schemas.js'

export const DOC_PATH = fileURLToPath(new URL('../docs/web-api.md', import.meta.url))
export const REGENERATE = 'npm run doc:web-api'

/** A route as the doc lists it. */
export interface DocRoute {
  method: string
  url: string
  websocket: boolean
  schema: { params?: unknown; querystring?: unknown; body?: unknown; headers?: unknown; response?: Record<string, unknown> }
}

/** Every route of a node's web app (API, admin, peers), in the order they are added. */
export async function collectRoutes(): Promise<DocRoute[]> {
  const data = mkdtempSync(join(tmpdir(), 'outpost-api-doc-'))
  try {
    await initNode({ data, domain: 'camp.test', host: '127.0.0.1', listen: '127.0.0.1' }, exec)
    const node = openNode(data)
    const routes: DocRoute[] = []
    const app = await buildApp({
      probes: { host: '127.0.0.1', smtpPort: 1, imapPort: 1, db: node.db, dataDir: data },
      services: createWebServices(node),
      // The peer routes too; nothing is called, only registered.
      inbox: { signerFor: () => undefined, importBundle: async () => ({ kind: 'quarantined', reason: 'x', file: 'x' }), pickup: async () => ({ bundles: [], confirm: () => undefined }) },
      web: false,
      onRoute: (r: RouteOptions) => {
        if (!r.url.startsWith('/api/')) return
        for (const method of [r.method].flat()) {
          if (method === 'HEAD') continue
          routes.push({ method, url: r.url, websocket: (r as { websocket?: boolean }).websocket === true, schema: (r.schema ?? {}) as DocRoute['schema'] })
        }
      },
    })
    await app.ready()
    await app.close()
    node.close()
    return routes
  } finally {
    rmSync(data, { recursive: true, force: true })
  }
}

// ---- shapes ----
type Schema = Record<string, unknown> & {
  type?: string
  properties?: Record<string, Schema>
  required?: string[]
  anyOf?: Schema[]
  allOf?: Schema[]
  items?: Schema
  patternProperties?: Record<string, Schema>
  const?: unknown
  description?: string
}

/** The contract's named schemas that are objects: the tables name them, and the shapes table spells each out once. */
const NAMED = new Map<unknown, string>(
  Object.entries(contract)
    .filter(([, v]) => typeof v === 'object' && v !== null && ((v as Schema).type === 'object' || (v as Schema).allOf !== undefined))
    .map(([k, v]) => [v, k]),
)

const isError = (s: Schema): boolean => s === contract.ErrorBody || JSON.stringify(s) === JSON.stringify(contract.ErrorBody)

/** A schema as a short TypeScript-like type; named contract schemas by name (collected in `used`). */
export function shape(s: Schema, used: Set<string>, top = true): string {
  const name = NAMED.get(s)
  if (name && !top) {
    used.add(name)
    return name
  }
  if (s.const !== undefined) return JSON.stringify(s.const)
  if (s.anyOf) return s.anyOf.map((x) => shape(x, used, false)).join(' \\| ')
  if (s.allOf) return s.allOf.map((x) => shape(x, used, false)).join(' & ')
  if (s.type === 'array') {
    const inner = shape(s.items ?? {}, used, false)
    return /[|&]/.test(inner) && !inner.startsWith('{') ? `(${inner})[]` : `${inner}[]`
  }
  if (s.type === 'object' && s.patternProperties) return `{[string]: ${shape(Object.values(s.patternProperties)[0] ?? {}, used, false)}}`
  if (s.type === 'object') {
    const req = new Set(s.required ?? [])
    const fields = Object.entries(s.properties ?? {}).map(([k, v]) => `${k}${req.has(k) ? '' : '?'}: ${shape(v, used, false)}`)
    return `{${fields.join(', ')}}`
  }
  if (s.type === 'integer' || s.type === 'number' || s.type === 'string' || s.type === 'boolean' || s.type === 'null') return s.type
  return 'any JSON'
}

function auth(r: DocRoute): string {
  if (r.url.startsWith('/api/peer/')) return 'peer signature'
  if (isPublicRoute(r.url)) return 'none'
  return r.method === 'GET' ? 'session' : 'session + CSRF'
}

function request(r: DocRoute, used: Set<string>): string {
  const parts: string[] = []
  const s = r.schema
  if (s.params) parts.push(`path ${shape(s.params as Schema, used)}`)
  if (s.querystring) parts.push(`query ${shape(s.querystring as Schema, used)}`)
  if (s.headers) parts.push(`headers ${shape(s.headers as Schema, used)}`)
  if (s.body) parts.push(`body ${shape(s.body as Schema, used, !NAMED.has(s.body))}`)
  return parts.join('; ')
}

function answer(r: DocRoute, used: Set<string>): string {
  if (r.websocket) {
    used.add('Event')
    return 'websocket: one `Event` per text frame'
  }
  // Codes that answer the same shape share one entry: "200, 422: Outcome".
  const byShape = new Map<string, string[]>()
  const errors: string[] = []
  for (const [code, schema] of Object.entries(r.schema.response ?? {})) {
    const s = schema as Schema
    if (isError(s)) errors.push(code)
    else {
      const text = s.type === 'null' ? 'no body' : shape(s, used, !NAMED.has(s))
      byShape.set(text, [...(byShape.get(text) ?? []), code])
    }
  }
  const out = [...byShape].map(([text, codes]) => `${codes.join(', ')}: ${text}`)
  if (errors.length) out.push(`errors ${errors.join(', ')}`)
  return out.join('; ')
}

/** The table of some routes. */
export function routeTable(routes: DocRoute[], used: Set<string>): string {
  const rows = routes.map((r) => `| ${r.method} | \`${r.url}\` | ${auth(r)} | ${request(r, used) || ' '} | ${answer(r, used)} |`)
  return ['| method | path | auth | request | answer |', '|---|---|---|---|---|', ...rows].join('\n')
}

/** The shapes the tables name, each spelt out once (and the shapes they name in turn). */
export function shapeTable(used: Set<string>): string {
  const rows = new Map<string, string>()
  const queue = [...used]
  while (queue.length) {
    const name = queue.shift()!
    if (rows.has(name)) continue
    const more = new Set<string>()
    const s = (contract as Record<string, unknown>)[name] as Schema
    rows.set(name, `| \`${name}\` | ${shape(s, more)} | ${notes(s)} |`)
    queue.push(...more)
  }
  return ['| shape | fields | notes |', '|---|---|---|', ...[...rows].sort(([a], [b]) => a.localeCompare(b)).map(([, row]) => row)].join('\n')
}

/** The descriptions the schema gives its fields, one `field`: text each. */
function notes(s: Schema): string {
  const out: string[] = []
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    if (v.description) out.push(`\`${k}\`: ${v.description.replaceAll('|', '\\|')}`)
  }
  return out.join('; ') || ' '
}

const REGION = /<!-- routes: ([^\n]*?) \(generated[^\n]*?\) -->\n[\s\S]*?<!-- end of routes -->/g
const SHAPES = /<!-- shapes \(generated[^\n]*?\) -->\n[\s\S]*?<!-- end of shapes -->/

/**
 * The doc with each generated part rewritten: a `routes:` part lists the
 * routes under its paths (the longest matching path wins), the `shapes` part
 * every shape the tables name. Every route must be in some part.
 */
export function renderWebApiDoc(doc: string, routes: DocRoute[]): string {
  const prefixesOf = [...doc.matchAll(REGION)].map((m) => m[1]!.split(/\s+/))
  const all = prefixesOf.flat()
  const home = (url: string) => all.filter((p) => url.startsWith(p)).sort((a, b) => b.length - a.length)[0]
  const missing = routes.filter((r) => home(r.url) === undefined)
  if (missing.length) throw new Error(`docs/web-api.md has no part for ${missing.map((r) => `${r.method} ${r.url}`).join(', ')}: add a "<!-- routes: PATH… (generated by ${REGENERATE}) -->" part where it belongs`)
  const used = new Set<string>()
  let out = doc.replace(REGION, (_all, list: string) => {
    const mine = new Set(list.split(/\s+/))
    const table = routeTable(
      routes.filter((r) => mine.has(home(r.url)!)),
      used,
    )
    return `<!-- routes: ${list} (generated by ${REGENERATE}) -->\n${table}\n<!-- end of routes -->`
  })
  if (!SHAPES.test(out)) throw new Error('docs/web-api.md has no "<!-- shapes (generated …) -->" part')
  out = out.replace(SHAPES, `<!-- shapes (generated by ${REGENERATE}) -->\n${shapeTable(used)}\n<!-- end of shapes -->`)
  return out
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const doc = readFileSync(DOC_PATH, 'utf8')
  const next = renderWebApiDoc(doc, await collectRoutes())
  if (next === doc) console.log('docs/web-api.md is up to date')
  else {
    writeFileSync(DOC_PATH, next)
    console.log('docs/web-api.md: generated parts rewritten')
  }
}
