// Classic peers: an Exim or Postfix node with NNCP (or Filespooler), set up
// the way such nodes have long exchanged batch SMTP (docs/interop/exim.md).
//
//   outpost peer add-classic NAME --domain D [--domain D]... [--nncp-node ID]
//   outpost classic receive [--peer NAME]
//
// `classic receive` is what the carrier runs for each batch: NNCP's exec
// handler (the batch on stdin, the sending node's id in NNCP_SENDER) or
// Filespooler's queue-process (with --peer, as each queue has one sender).
// Like `outpost import -`, it works on the node's database and hands local
// mail to the running node's Dovecot over LMTP; a message is ours once the
// ledger and Dovecot (or the outbox) have it.
//
// Exit codes are for the carrier: 0 when the batch is ours (taken, seen
// before, or kept in quarantine: sending it again would change nothing), 75
// (EX_TEMPFAIL) when it could not be taken yet and the carrier must keep it.
import { openNode } from '../context/context.js'
import { resolveDataDir } from '../base/paths.js'
import { ensureIdentity } from '../identity/keys.js'
import { Exchange, exchangeServices } from '../exchange/exchange.js'
import { MAX_BUNDLE_FILE_BYTES, type ClassicImportOutcome } from '../exchange/import.js'
import { PeerService } from '../peers/service.js'
import { loadIdentity } from '../identity/keys.js'
import { OutpostError } from '../base/errors.js'

export class ClassicUsageError extends OutpostError {
  override name = 'ClassicUsageError'
}

export async function cmdPeerAddClassic(name: string | undefined, values: { data?: unknown; domain?: unknown; 'nncp-node'?: unknown }): Promise<number> {
  if (!name) throw new ClassicUsageError('peer add-classic needs a NAME for the peer (how routes and `peer list` will call it)')
  const domains = (values.domain as string[] | undefined) ?? []
  const node = openNode(resolveDataDir(values.data as string | undefined))
  try {
    await ensureIdentity(node.paths)
    const peers = new PeerService(node.db, { domains: [node.config.node.domain], signPublicB64: loadIdentity(node.paths).signPublicB64 })
    const r = peers.addClassic(name, { domains, nncpNode: values['nncp-node'] as string | undefined })
    const what = { added: 'Added classic peer', unchanged: 'Already a classic peer, unchanged:', updated: 'Updated classic peer', replaced: 'Updated classic peer' }[r.status]
    console.log(`${what} ${r.peer.name}: ${r.peer.domains.join(', ')}`)
    if (r.peer.classic?.nncpNode) {
      console.log(`  its batches are taken only from NNCP node ${r.peer.classic.nncpNode}, and only from senders at these domains`)
      console.log(`  send to it with: outpost transport add ${r.peer.name} classic-nncp --set node=${r.peer.classic.nncpNode}`)
    } else {
      console.log(`  no NNCP node: its batches come in by Filespooler, with \`outpost classic receive --peer ${r.peer.name}\``)
    }
    return 0
  } finally {
    node.close()
  }
}

async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of process.stdin) {
    size += (c as Buffer).length
    if (size > limit) throw new ClassicUsageError(`the batch on stdin is larger than ${limit} bytes`)
    chunks.push(c as Buffer)
  }
  return Buffer.concat(chunks)
}

function describe(o: ClassicImportOutcome): string {
  switch (o.kind) {
    case 'imported':
      return `classic batch from ${o.peer}: ${o.messages} messages, ${o.delivered} delivered here, ${o.forwarded} forwarded, ${o.duplicates} already had, ${o.quarantined} quarantined`
    case 'duplicate':
      return `classic batch from ${o.peer}: already imported`
    case 'deferred':
      return `classic batch: not taken yet, the carrier keeps it: ${o.reason}`
    case 'quarantined':
      return `classic batch QUARANTINED (${o.reason}: ${o.detail}) as ${o.file}`
  }
}

/**
 * Who sent the batch. NNCP's word is the one that counts: it verified the
 * packet against the sending node's key. --peer is for carriers that do not
 * name a sender (Filespooler); with NNCP both must agree.
 */
function sender(x: Exchange, nncpSender: string | undefined, peerFlag: string | undefined): { peer: string } | { refused: string } {
  if (nncpSender) {
    const p = x.peers.classicByNncpNode(nncpSender)
    if (!p) return { refused: `NNCP node ${nncpSender} is not a classic peer of this node; add it with \`outpost peer add-classic NAME --nncp-node ${nncpSender} --domain ...\` if it should be` }
    if (peerFlag && peerFlag !== p.name) return { refused: `NNCP node ${nncpSender} is classic peer "${p.name}", not "${peerFlag}" as the handler's --peer says` }
    return { peer: p.name }
  }
  if (!peerFlag) return { refused: 'no sender: NNCP_SENDER is not set (not run by nncp-toss?) and no --peer NAME was given' }
  const p = x.peers.get(peerFlag)
  if (!p?.classic) return { refused: `"${peerFlag}" is not a classic peer of this node (\`outpost peer list\`)` }
  if (p.classic.nncpNode) return { refused: `classic peer "${peerFlag}" sends by NNCP (node ${p.classic.nncpNode}); its batches must come through nncp-toss, which names the sender` }
  return { peer: p.name }
}

export async function cmdClassicReceive(values: { data?: unknown; peer?: unknown }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const node = openNode(resolveDataDir(values.data as string | undefined))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  try {
    await ensureIdentity(node.paths)
    const x = new Exchange(node, exchangeServices(node))
    const via = env.NNCP_SENDER ? 'nncp-classic' : 'fspl-classic'
    let bytes: Buffer
    try {
      bytes = await readStdin(MAX_BUNDLE_FILE_BYTES)
    } catch (err) {
      if (!(err instanceof ClassicUsageError)) throw err
      console.error(`outpost: ${err.message}; refused (the carrier keeps it)`)
      return 75
    }
    const who = sender(x, env.NNCP_SENDER?.trim() || undefined, values.peer as string | undefined)
    const name = `classic-${env.NNCP_SENDER?.trim().slice(0, 16) || (values.peer as string | undefined) || 'unknown'}.bsmtp`
    const outcome = 'refused' in who ? x.quarantineClassic(name, bytes, 'not-a-peer', who.refused, via) : await x.importClassic(who.peer, bytes, { via, name })
    const line = describe(outcome)
    if (outcome.kind === 'quarantined') console.error(line)
    else console.log(line)
    return outcome.kind === 'deferred' ? 75 : 0
  } finally {
    node.close()
  }
}


