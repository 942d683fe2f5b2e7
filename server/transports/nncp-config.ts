// The NNCP config snippets Outpost asks a user to paste into their NNCP
// config. Pure: paths come in as arguments, text comes out. NNCP's keys and
// the rest of its config stay NNCP's own (made by `nncp-cfgnew`); Outpost
// only says which exec handler lets a neighbour hand it bundles.
//
// NNCP's config is HJSON, a superset of JSON, so every value is rendered as
// a JSON string: paths with spaces or quotes need no hand-escaping.

/** The exec handler name used when none is given: `nncp-exec PEER outpost-import`. */
export const DEFAULT_NNCP_HANDLER = 'outpost-import'

/** NNCP node names and handle names are config keys; keep them to what needs no quoting in any tool. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export function isNncpName(name: string): boolean {
  return NAME.test(name)
}

export interface NncpExecHandlerOptions {
  /** The Node.js binary that runs Outpost (the running one: `process.execPath`). */
  nodeBinary: string
  /** bin/outpost.mjs of this installation (a checkout or the .deb). */
  outpostBin: string
  /** The data directory of the Outpost node that imports what arrives. */
  dataDir: string
  /**
   * The NNCP area the handler serves, when it is an area's exec handler:
   * `outpost import - --area NAME` then passes over, quietly, the bundles
   * sealed to other nodes that every member of the area is handed.
   */
  area?: string
}

/**
 * The command NNCP runs for each exec packet, the bundle on its stdin.
 * Node and the script are named explicitly because nncp-toss runs with
 * NNCP's own PATH (often a service user's), where `outpost` may not be.
 */
export function nncpExecCommand(o: NncpExecHandlerOptions): string[] {
  for (const [what, path] of [['node binary', o.nodeBinary], ['outpost bin', o.outpostBin], ['data dir', o.dataDir]] as const) {
    if (!path.startsWith('/')) throw new Error(`the ${what} must be an absolute path, not "${path}": nncp-toss runs the handler from its own working directory`)
  }
  if (o.area !== undefined && !isNncpName(o.area)) throw new Error(`"${o.area}" is not a usable NNCP area name (letters, digits, ".", "_" and "-")`)
  return [o.nodeBinary, o.outpostBin, 'import', '-', ...(o.area ? ['--area', o.area] : []), '--data', o.dataDir]
}

export interface NncpExecSnippetOptions extends Omit<NncpExecHandlerOptions, 'area'> {
  /** The handler name (default outpost-import); the sending side's `handler` setting must match. */
  handler?: string
  /** The NNCP name of the neighbour whose section this goes into, for the comment. */
  neighbour?: string
  /** Relays that packets to this neighbour go through, as names in `neigh`. */
  via?: string[]
}

/** The lines for one neighbour's section of the NNCP config: the exec handler, plus notes on `via` and `incoming`. */
export function renderNncpExecSnippet(o: NncpExecSnippetOptions): string {
  const handler = o.handler ?? DEFAULT_NNCP_HANDLER
  if (!isNncpName(handler)) throw new Error(`"${handler}" is not a usable NNCP handler name (letters, digits, ".", "_" and "-")`)
  for (const n of [...(o.neighbour ? [o.neighbour] : []), ...(o.via ?? [])]) {
    if (!isNncpName(n)) throw new Error(`"${n}" is not a usable NNCP node name (letters, digits, ".", "_" and "-")`)
  }
  const argv = nncpExecCommand(o).map((a) => JSON.stringify(a)).join(', ')
  const where = o.neighbour ? `neigh: { ${o.neighbour}: { ... } }` : 'neigh: { PEER: { ... } }, PEER being the other Outpost node\'s NNCP node'
  const lines = [
    `# Outpost: paste into the neighbour section ${where}`,
    '# of this node\'s NNCP config, beside the keys nncp-cfgnew made there.',
    '# Only that neighbour may then run the handler: NNCP checks the packet\'s',
    '# signature against its signpub before it runs anything.',
    `# Every bundle arrives on stdin of: outpost import - (exit 75 = try again,`,
    '# and NNCP keeps a packet whose handler failed for its next toss).',
    'exec: {',
    `  ${JSON.stringify(handler)}: [${argv}]`,
    '}',
  ]
  if (o.via?.length) {
    lines.push(
      '# Packets to this neighbour go through these relays (onion-encrypted,',
      '# so the relays cannot read them); each relay must be in neigh too.',
      `via: [${o.via.map((v) => JSON.stringify(v)).join(', ')}]`,
    )
  } else {
    lines.push('# If this neighbour is reached only through relays, add via: ["RELAY", ...] here.')
  }
  lines.push(
    '# No "incoming" is needed: bundles travel as exec packets, not files,',
    '# and leaving it out keeps NNCP refusing file uploads from this neighbour.',
  )
  return `${lines.join('\n')}\n`
}

/** An area's keys as `nncp-cfgnew -area NAME` prints them; the same on every member of the group. */
export interface NncpAreaKeys {
  id: string
  pub: string
  prv: string
}

export interface NncpAreaSnippetOptions extends NncpExecHandlerOptions {
  area: string
  /** The handler name (default outpost-import); the sending side's `handler` setting must match. */
  handler?: string
  /** The neighbours this node passes the area's packets on to: the ones it meets. */
  subs?: string[]
  /** The area's keys; left out, the snippet holds placeholders that NNCP refuses until they are filled in. */
  keys?: NncpAreaKeys
}

/** NNCP's ids and keys are 52 letters and digits of base32 (256 bits). */
const AREA_KEY = /^[A-Z2-7]{52}$/

/**
 * The `areas` block of this node's NNCP config for one area: its keys, the
 * neighbours to pass packets on to, and the exec handler that hands each
 * bundle to `outpost import - --area NAME`. Outpost does not make the area's
 * keys: one member makes them once (`nncp-cfgnew -area NAME`) and every
 * Outpost box of the group gets the same three.
 */
export function renderNncpAreaSnippet(o: NncpAreaSnippetOptions): string {
  const handler = o.handler ?? DEFAULT_NNCP_HANDLER
  if (!isNncpName(handler)) throw new Error(`"${handler}" is not a usable NNCP handler name (letters, digits, ".", "_" and "-")`)
  if (!isNncpName(o.area)) throw new Error(`"${o.area}" is not a usable NNCP area name (letters, digits, ".", "_" and "-")`)
  for (const n of o.subs ?? []) {
    if (!isNncpName(n)) throw new Error(`"${n}" is not a usable NNCP node name (letters, digits, ".", "_" and "-")`)
  }
  for (const [k, v] of Object.entries(o.keys ?? {})) {
    if (!AREA_KEY.test(v)) throw new Error(`the area's ${k} "${v}" is not an NNCP key (52 characters of base32, as nncp-cfgnew -area prints)`)
  }
  const argv = nncpExecCommand(o).map((a) => JSON.stringify(a)).join(', ')
  const key = (k: keyof NncpAreaKeys) => JSON.stringify(o.keys?.[k] ?? `${k.toUpperCase()}-FROM-nncp-cfgnew-area`)
  const lines = [
    `# Outpost: paste into the areas section of this node's NNCP config,`,
    '# areas: { ... }, at the top level beside self and neigh.',
    ...(o.keys
      ? []
      : [
          `# id, pub and prv come from \`nncp-cfgnew -area ${o.area} -nocomments\`, run once for the`,
          '# whole group: every Outpost box of the area gets the same three.',
        ]),
    '# Every member that posts to the area must be in neigh (its id, exchpub,',
    '# signpub and noisepub; no addrs needed), or NNCP refuses its packets as',
    '# from an "unknown sender".',
    'areas: {',
    `  ${JSON.stringify(o.area)}: {`,
    `    id: ${key('id')}`,
    '    # With pub and prv this node can open the area\'s packets; a box that',
    '    # only carries them (no Outpost on it) gets id and subs alone.',
    `    pub: ${key('pub')}`,
    `    prv: ${key('prv')}`,
    '    # The neighbours this node passes every packet of the area on to.',
    `    subs: [${(o.subs?.length ? o.subs : ['NEIGHBOUR']).map((n) => JSON.stringify(n)).join(', ')}]`,
    '    # Every bundle of the area arrives here; outpost import - --area imports',
    '    # those sealed to this node and passes the others over (exit 0), since',
    '    # NNCP carries them on to subs by itself.',
    '    exec: {',
    `      ${JSON.stringify(handler)}: [${argv}]`,
    '    }',
    '  }',
    '}',
  ]
  return `${lines.join('\n')}\n`
}
