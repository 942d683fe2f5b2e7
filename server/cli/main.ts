// The `outpost` command line. Scripts, tests and the appliance drive Outpost
// through it, so its forms are a contract: see docs/cli.md.
//
// Shared flag: --data DIR (any position; default $OUTPOST_DATA, then /var/lib/outpost).
import { parseArgs, type ParseArgsConfig } from 'node:util'
import QRCode from 'qrcode'
import { resolveDataDir } from '../paths.js'
import { initNode } from '../node/init.js'
import { openNode } from '../node/context.js'
import { dcloginUri } from '../accounts/dclogin.js'
import { exec } from '../exec.js'

const USAGE = `usage: outpost COMMAND [--data DIR] ...

Setting up
  init --domain DOMAIN [--name NAME] [--host ADDR] [--listen ADDR]
       [--smtp-port N] [--smtps-port N] [--imap-port N] [--imaps-port N] [--web-port N]
                              make DIR a new node (config, database, TLS certificate)
Running
  start                       run the node in the foreground (SMTP, IMAP, web admin)
Accounts
  account add ADDRESS [--password P]   create an account (a strong random password when none is given)
  account list                         list accounts
  account remove ADDRESS               delete an account (its mail stays on disk)
  account passwd ADDRESS [--password P] set a new password (random when none is given)
  account qr ADDRESS [--uri]           print the dclogin: QR code Delta Chat scans (--uri: the URI only)

Every command takes --data DIR; the default is $OUTPOST_DATA, then /var/lib/outpost.
`

export class UsageError extends Error {
  override name = 'UsageError'
}

type Options = NonNullable<ParseArgsConfig['options']>
const DATA: Options = { data: { type: 'string' }, help: { type: 'boolean', short: 'h' } }

function parse(args: string[], options: Options) {
  try {
    return parseArgs({ args, options: { ...DATA, ...options }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

function portFlag(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${flag} must be a port number from 1 to 65535, not "${String(v)}"`)
  return n
}

async function cmdInit(args: string[]): Promise<number> {
  const { values } = parse(args, {
    domain: { type: 'string' },
    name: { type: 'string' },
    host: { type: 'string' },
    listen: { type: 'string' },
    'smtp-port': { type: 'string' },
    'smtps-port': { type: 'string' },
    'imap-port': { type: 'string' },
    'imaps-port': { type: 'string' },
    'web-port': { type: 'string' },
  })
  if (typeof values.domain !== 'string') throw new UsageError('init needs --domain DOMAIN (the mail domain of this node, e.g. camp.test)')
  const data = resolveDataDir(values.data as string | undefined)
  const { paths, config } = await initNode(
    {
      data,
      domain: values.domain,
      name: values.name as string | undefined,
      host: values.host as string | undefined,
      listen: values.listen as string | undefined,
      ports: {
        submission: portFlag(values['smtp-port'], 'smtp-port'),
        smtps: portFlag(values['smtps-port'], 'smtps-port'),
        imap: portFlag(values['imap-port'], 'imap-port'),
        imaps: portFlag(values['imaps-port'], 'imaps-port'),
        web: portFlag(values['web-port'], 'web-port'),
      },
    },
    exec,
  )
  const p = config.ports
  console.log(`Initialised node ${config.node.name} for ${config.node.domain} in ${paths.data}`)
  console.log(`  config ${paths.config}`)
  console.log(`  ports: submission ${p.submission}, smtps ${p.smtps}, imap ${p.imap}, imaps ${p.imaps}, web ${p.web}; phones reach it at ${config.node.host}`)
  console.log(`Next: outpost account add alice@${config.node.domain} --data ${paths.data}; outpost start --data ${paths.data}`)
  return 0
}

async function cmdStart(args: string[]): Promise<number> {
  const { values } = parse(args, {})
  const { startNode } = await import('../node/start.js')
  return startNode(resolveDataDir(values.data as string | undefined))
}

async function cmdAccount(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { password: { type: 'string' }, uri: { type: 'boolean' } })
  const [sub, addrArg, ...rest] = positionals
  if (rest.length) throw new UsageError(`unexpected argument: ${rest.join(' ')}`)
  const node = openNode(resolveDataDir(values.data as string | undefined))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  try {
    const address = addrArg === undefined ? undefined : addrArg.includes('@') ? addrArg : `${addrArg}@${node.config.node.domain}`
    const need = (): string => {
      if (!address) throw new UsageError(`account ${sub} needs an ADDRESS`)
      return address
    }
    switch (sub) {
      case 'add': {
        const r = await node.accounts.add(need(), values.password as string | undefined)
        console.log(`Created ${r.address}`)
        if (values.password === undefined) console.log(`password: ${r.password}`)
        console.log(`Show its QR code for Delta Chat with: outpost account qr ${r.address} --data ${node.paths.data}`)
        return 0
      }
      case 'list': {
        const list = node.accounts.list()
        if (list.length === 0) console.error('no accounts yet: outpost account add ADDRESS')
        for (const a of list) console.log(`${a.address}\tcreated ${new Date(a.createdAt).toISOString()}`)
        return 0
      }
      case 'remove': {
        node.accounts.remove(need())
        console.log(`Removed ${need()}; its mail stays in ${node.paths.mail} until you delete it`)
        return 0
      }
      case 'passwd': {
        const r = await node.accounts.setPassword(need(), values.password as string | undefined)
        console.log(`New password set for ${r.address}`)
        if (values.password === undefined) console.log(`password: ${r.password}`)
        return 0
      }
      case 'qr': {
        // The QR carries the password, so the account gets a fresh one: the
        // node stores only a hash and cannot show the old one again.
        const a = need()
        const r = values.password !== undefined ? { address: a, password: values.password as string } : await node.accounts.setPassword(a)
        if (values.password !== undefined && !(await node.accounts.verify(a, r.password))) throw new UsageError(`--password does not match ${a}'s password`)
        const uri = dcloginUri(node.config, r.address, r.password)
        if (values.uri) {
          console.log(uri)
          return 0
        }
        console.log(await QRCode.toString(uri, { type: 'terminal', small: true }))
        console.log(uri)
        console.log(`Scan this with Delta Chat ("Add account" → "Scan QR code") on a phone on the box's network.`)
        console.log('Scanning sets up the account with no typing. This QR holds a new password: earlier QR codes of this account no longer work.')
        return 0
      }
      default:
        throw new UsageError(`unknown account command "${sub ?? ''}" (add, list, remove, passwd, qr)`)
    }
  } finally {
    node.close()
  }
}

export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  try {
    switch (cmd) {
      case 'init':
        return await cmdInit(rest)
      case 'start':
        return await cmdStart(rest)
      case 'account':
        return await cmdAccount(rest)
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE)
        return cmd === undefined ? 2 : 0
      default:
        throw new UsageError(`unknown command "${cmd}"`)
    }
  } catch (err) {
    const e = err as Error
    if (e instanceof UsageError) {
      console.error(`outpost: ${e.message}\n\n${USAGE}`)
      return 2
    }
    if (['ConfigError', 'InitError', 'AccountError', 'AddressError', 'StartError', 'DovecotError'].includes(e.name)) {
      console.error(`outpost: ${e.message}`)
      return 1
    }
    console.error(`outpost: ${e.stack ?? e.message}`)
    return 1
  }
}
