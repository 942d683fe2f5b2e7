// docs/web-api.md's endpoint tables come from the routes' schemas, as
// docs/configuration.md comes from the config schema: the doc must be what
// the generator writes, so a changed route cannot leave the doc behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { collectRoutes, DOC_PATH, REGENERATE, renderWebApiDoc, type DocRoute } from '../../../build/web-api-doc.js'

let routes: DocRoute[] | undefined
const allRoutes = async () => (routes ??= await collectRoutes())

test('docs/web-api.md is generated from the route schemas and up to date', async () => {
  const doc = readFileSync(DOC_PATH, 'utf8')
  assert.equal(doc, renderWebApiDoc(doc, await allRoutes()), `docs/web-api.md is out of date with the route schemas: run \`${REGENERATE}\``)
})

test('the generated tables list every route with what it takes and answers, Run.detail and the kinds\' defaults included', async () => {
  const doc = readFileSync(DOC_PATH, 'utf8')
  const all = await allRoutes()
  assert.ok(all.length >= 50, `collected ${all.length} routes`)
  for (const r of all) assert.ok(doc.includes(`| ${r.method} | \`${r.url}\` |`), `${r.method} ${r.url} has a row`)
  assert.match(doc, /\| GET \| `\/api\/transports\/:id\/runs` \| session \| path \{id: integer\}; query \{limit: integer\} \| 200: Run\[\]; errors 404 \|/)
  assert.match(doc, /\| `Run` \| \{[^\n]*, detail: string \\\| null\} \|/)
  assert.match(doc, /\| `TransportKind` \| \{kind: string, summary: string, defaultSchedule: string, options: \{[^}]*default\?: string\}\[\]\}/)
  assert.match(doc, /\| POST \| `\/api\/peer\/bundles` \| peer signature \|/)
})

test('a stale table is rewritten, the prose around it kept, and a route without a place in the doc is refused by name', async () => {
  const doc = readFileSync(DOC_PATH, 'utf8')
  const stale = doc.replace('| GET | `/api/queue` | session |', '| GET | `/api/queue` | none |')
  assert.notEqual(stale, doc)
  assert.equal(renderWebApiDoc(stale, await allRoutes()), doc)
  const withoutQueue = doc.replace('<!-- routes: /api/queue (generated', '<!-- routes: /api/queue-gone (generated')
  assert.throws(() => renderWebApiDoc(withoutQueue, routes!), /no part for GET \/api\/queue, POST \/api\/queue\/:peer\/retry, DELETE \/api\/queue\/:peer\/:messageId/)
})
