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
  return [o.nodeBinary, o.outpostBin, 'import', '-', '--data', o.dataDir]
}

export interface NncpExecSnippetOptions extends NncpExecHandlerOptions {
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
