// `outpost transport add|list|remove|run`: the carriers that reach each peer.
import { openNode, type NodeContext } from '../context/context.js'
import { resolveDataDir } from '../base/paths.js'
import { ensureIdentity } from '../identity/keys.js'
import { Exchange, exchangeServices } from '../exchange/exchange.js'
import { maskSecrets, nextRuns, TransportService } from '../transports/service.js'
import { runTransport } from '../transports/runner.js'
import { driverFor, driverKinds } from '../transports/registry.js'
import { TransportConfigError, allConfigKeys } from '../transports/transport.js'
import { exec } from '../base/exec.js'
import { formatAge, formatBytes, progressBar } from './progress.js'

export function transportHelp(): string {
  const lines = ['Transport kinds and their settings (give each with --set KEY=VALUE):']
  for (const kind of driverKinds()) {
    const d = driverFor(kind)!
    lines.push(`  ${kind} (default schedule "${d.defaultSchedule}"): ${d.doc}`)
    for (const [k, spec] of Object.entries(allConfigKeys(d))) lines.push(`      ${k}${spec.required ? ' (required)' : spec.default !== undefined ? ` (default ${spec.default})` : ''}: ${spec.doc}`)
  }
  return lines.join('\n')
}

export async function cmdTransport(sub: string | undefined, args: string[], values: { data?: unknown; schedule?: unknown; set?: unknown }): Promise<number> {
  const node: NodeContext = openNode(resolveDataDir(values.data as string | undefined))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  try {
    await ensureIdentity(node.paths)
    const exchange = new Exchange(node, exchangeServices(node))
    const service = new TransportService(node.db, (name) => exchange.peers.get(name) !== undefined)
    switch (sub) {
      case 'add': {
        const [peer, kind] = args
        if (!peer || !kind) throw new TransportConfigError(`transport add needs PEER and KIND\n${transportHelp()}`)
        const raw: Record<string, string> = {}
        for (const kv of (values.set as string[] | undefined) ?? []) {
          const eq = kv.indexOf('=')
          if (eq <= 0) throw new TransportConfigError(`--set takes KEY=VALUE, not "${kv}"`)
          raw[kv.slice(0, eq)] = kv.slice(eq + 1)
        }
        const t = service.add(peer, kind, raw, values.schedule as string | undefined)
        console.log(`added transport ${t.id}: ${t.kind} to ${t.peer}, schedule "${t.schedule}"`)
        return 0
      }
      case 'list': {
        const list = service.list()
        if (!list.length) console.error('no transports yet: outpost transport add PEER KIND --set KEY=VALUE')
        const now = Date.now()
        for (const t of list) {
          const last = service.runs(t.id, 1)[0]
          const ok = service.lastSuccess(t.id)
          const lastText = last
            ? last.ok
              ? `last run ok ${formatAge(now - last.startedAt)} ago (${formatBytes(last.bytesOut)} out, ${formatBytes(last.bytesIn)} in)`
              : last.ok === false
                ? `last run FAILED ${formatAge(now - last.startedAt)} ago: ${last.error}`
                : 'running'
            : 'never run'
          const next = nextRuns(t.schedule)[0]
          const nextText = next ? `; next run in ${formatAge(next.getTime() - now)}` : t.schedule === 'event' ? '; runs when mail waits' : ''
          console.log(`${t.id}\t${t.peer}\t${t.kind}\t"${t.schedule}"\t${JSON.stringify(maskSecrets(t.kind, t.config))}\t${lastText}${ok && ok.id !== last?.id ? `; last success ${formatAge(now - ok.startedAt)} ago` : ''}${nextText}`)
          if (t.kind === 'syncthing') {
            // Syncthing's own view of the shared folder: what is still on its way.
            const { syncthingFolderState } = await import('../transports/syncthing.js')
            const st = await syncthingFolderState(t.config as { api: string; api_key: string; folder_id: string }).catch((err: Error) => err)
            console.log(st instanceof Error ? `\tsyncthing: cannot ask (${st.message})` : `\tsyncthing folder ${t.config.folder_id}: ${st.state}, ${st.needFiles} files (${formatBytes(st.needBytes)}) still to fetch`)
          }
        }
        return 0
      }
      case 'remove': {
        service.remove(Number(args[0]))
        console.log(`removed transport ${args[0]}`)
        return 0
      }
      case 'run': {
        const id = Number(args[0])
        if (!Number.isInteger(id)) throw new TransportConfigError('transport run needs the ID shown by `transport list`')
        const r = await runTransport({ node, exchange, service, exec, log: (l) => console.error(l) }, id, progressBar('run'))
        console.log(`sent ${r.sentBundles} bundles (${formatBytes(r.sentBytes)}), received ${r.receivedBundles} (${formatBytes(r.receivedBytes)}): ${r.detail}`)
        return 0
      }
      default:
        throw new TransportConfigError(`unknown transport command "${sub ?? ''}" (add, list, remove, run)\n${transportHelp()}`)
    }
  } finally {
    node.close()
  }
}
