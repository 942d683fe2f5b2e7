// `outpost uplink …` and `outpost dkim …`: how this node reaches the
// Internet, and the DKIM keys a gateway signs with. The logic is in
// server/gateway/; this file only reads flags and prints.
import { readFileSync } from 'node:fs'
import { openNode, type NodeContext } from '../context/context.js'
import { resolveDataDir } from '../base/paths.js'
import { PeerService } from '../peers/service.js'
import { ensureIdentity } from '../identity/keys.js'
import { UplinkService, type UplinkView } from '../gateway/uplink.js'
import { dkimDnsRecord, ensureDkimKey, listDkimKeys, type DkimKey } from '../gateway/dkim.js'
import { formatAge } from './progress.js'
import { OutpostError } from '../base/errors.js'

export class UplinkCliError extends OutpostError {
  override name = 'UplinkCliError'
}

async function withNode<T>(data: unknown, fn: (node: NodeContext) => Promise<T> | T): Promise<T> {
  const node = openNode(resolveDataDir(data as string | undefined))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  try {
    return await fn(node)
  } finally {
    node.close()
  }
}

/** One or two lines about the uplink, for `outpost uplink` and `outpost status`. */
export function describeUplink(v: UplinkView, gateway: boolean, now = Date.now()): string[] {
  const lines: string[] = []
  if (gateway) lines.push(`gateway: yes (takes the group's mail from the Internet and sends it out${v.smarthost ? ` through the smarthost ${v.smarthost.host}:${v.smarthost.port} as ${v.smarthost.user}, password set` : ' by MX'})`)
  if (v.kind === 'gateway') {
    const state = v.online === null ? 'not probed yet' : v.online ? 'online' : 'offline'
    const last = v.lastOnline ? `${new Date(v.lastOnline).toISOString()} (${formatAge(now - v.lastOnline)} ago)` : 'never'
    lines.push(`uplink: gateway ${v.peer} — ${state}, last online ${last}, probed every ${v.probeSeconds} s`)
  } else if (v.kind === 'account' && v.account) {
    const state = v.online === null ? 'not probed yet' : v.online ? 'online' : 'offline'
    const last = v.lastOnline ? `${new Date(v.lastOnline).toISOString()} (${formatAge(now - v.lastOnline)} ago)` : 'never'
    lines.push(`uplink: email account ${v.account.address} (SMTP ${v.account.smtpHost}:${v.account.smtpPort}, IMAP ${v.account.imapHost}:${v.account.imapPort} as ${v.account.user}, password set) — ${state}, last online ${last}, probed every ${v.probeSeconds} s`)
  } else if (!gateway) lines.push('uplink: none (mail for the Internet has no way out; `outpost uplink set --kind gateway --peer NAME`)')
  return lines
}

async function readPassword(values: Record<string, unknown>): Promise<string> {
  if (typeof values['password-file'] === 'string') return readFileSync(values['password-file'], 'utf8').replace(/\r?\n$/, '')
  if (values['password-stdin'] === true) {
    const chunks: Buffer[] = []
    for await (const c of process.stdin) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
  }
  // Never from a flag: a command line is visible to every user in ps and kept in shell history.
  throw new UplinkCliError('give the smarthost password with --password-stdin (piped in) or --password-file FILE, never on the command line')
}

export async function cmdUplink(sub: string | undefined, args: string[], values: Record<string, unknown>): Promise<number> {
  return withNode(values.data, async (node) => {
    const uplink = new UplinkService(node.db, node.paths.keysDir)
    const identity = await ensureIdentity(node.paths)
    const peers = new PeerService(node.db, { domains: [node.config.node.domain], signPublicB64: identity.signPublicB64 })
    switch (sub) {
      case undefined:
      case 'show': {
        for (const l of describeUplink(uplink.describe(), node.config.gateway.enabled)) console.log(l)
        return 0
      }
      case 'set': {
        const probe = values['probe-seconds'] === undefined ? undefined : Number(values['probe-seconds'])
        const v = uplink.configure({ kind: values.kind as string | undefined, peer: values.peer as string | undefined, probeSeconds: probe }, (n) => peers.get(n) !== undefined)
        for (const l of describeUplink(v, node.config.gateway.enabled)) console.log(l)
        console.log('A running node picks this up within a probe interval.')
        return 0
      }
      case 'smarthost': {
        const [action, target] = args
        if (action === 'clear') {
          uplink.clearSmarthost()
          console.log('Smarthost removed: mail for the Internet goes by MX again.')
          return 0
        }
        if (action !== 'set' || !target) throw new UplinkCliError('usage: outpost uplink smarthost set HOST:PORT --user USER (--password-stdin | --password-file FILE) | smarthost clear')
        const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target)
        if (!m) throw new UplinkCliError(`"${target}" is not HOST:PORT (for example smtp.example.net:587)`)
        const v = uplink.setSmarthost({ host: m[1]!, port: Number(m[2]), user: String(values.user ?? ''), password: await readPassword(values) })
        console.log(`Smarthost set: ${v.smarthost!.host}:${v.smarthost!.port} as ${v.smarthost!.user} (password stored encrypted with keys/secrets.key).`)
        console.log('The smarthost must offer STARTTLS with a certificate a CA vouches for; nothing is sent there without it. A running gateway restarts its Haraka within seconds to require that.')
        if (!node.config.gateway.enabled) console.log('Note: this node is no gateway yet ([gateway] enabled = false in outpost.toml); the smarthost is used once it is.')
        return 0
      }
      case 'account': {
        const [action, address] = args
        if (action === 'clear') {
          uplink.clearAccount()
          console.log('Email account removed as the uplink.')
          return 0
        }
        if (action === 'run') {
          const { AccountUplinkRunner } = await import('../gateway/account-uplink.js')
          const r = await new AccountUplinkRunner(node, () => uplink.accountForDelivery()).run()
          console.log(`sent ${r.sent} messages; fetched ${r.fetched}: ${r.delivered} delivered here or queued for peers, ${r.quarantined} to quarantine`)
          return 0
        }
        if (action !== 'set' || !address) throw new UplinkCliError('usage: outpost uplink account set ADDRESS --smtp HOST:PORT --imap HOST:PORT [--user USER] (--password-stdin | --password-file FILE) [--insecure-tls] | account run | account clear')
        const hp = (v: unknown, flag: string) => {
          const m = /^([^:\s]+):(\d+)$/.exec(String(v ?? ''))
          if (!m) throw new UplinkCliError(`--${flag} takes HOST:PORT (for example ${flag}.provider.example:${flag === 'smtp' ? 587 : 143})`)
          return { host: m[1]!, port: Number(m[2]) }
        }
        const smtp = hp(values.smtp, 'smtp')
        const imap = hp(values.imap, 'imap')
        const v = uplink.setAccount({
          address,
          smtpHost: smtp.host,
          smtpPort: smtp.port,
          imapHost: imap.host,
          imapPort: imap.port,
          user: String(values.user ?? address),
          password: await readPassword(values),
          insecureTls: values['insecure-tls'] === true,
        })
        console.log(`Email account ${v.account!.address} set (password stored encrypted with keys/secrets.key). Use it with \`outpost uplink set --kind account\`; see docs/uplink.md for what this mode cannot do.`)
        return 0
      }
      default:
        throw new UplinkCliError(`unknown uplink command "${sub}" (show, set, smarthost set|clear, account set|run|clear)`)
    }
  })
}

function printKey(key: DkimKey, created: boolean): void {
  console.log(`${created ? 'New DKIM key' : 'DKIM key'} for ${key.domain}, selector ${key.selector}. Publish this TXT record in the DNS of ${key.domain}:`)
  console.log(dkimDnsRecord(key))
}

export async function cmdDkim(args: string[], values: Record<string, unknown>): Promise<number> {
  return withNode(values.data, (node) => {
    if (args[0] === 'list') {
      const keys = listDkimKeys(node.paths.keysDir)
      if (!keys.length) console.log('no DKIM keys yet (`outpost dkim [DOMAIN]` makes one)')
      for (const k of keys) printKey(k, false)
      return 0
    }
    const domain = args[0] ?? node.config.node.domain
    const { key, created } = ensureDkimKey(node.paths.keysDir, domain, { selector: values.selector as string | undefined, rotate: values.rotate === true })
    printKey(key, created)
    if (created) console.log('The running node signs with it after its next start (`outpost start`).')
    return 0
  })
}
