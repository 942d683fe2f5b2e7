// The `outpost` command line. Scripts, tests and the appliance drive Outpost
// through it, so its forms are a contract: see the command table in README.md.
//
// Shared flag: --data DIR (any position; default $OUTPOST_DATA, then /var/lib/outpost).
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { QRCodeToStringOptions } from 'qrcode'
import { resolveDataDir } from '../base/paths.js'
import { formatSetupCode } from '../admin/setup-code.js'
import { openNode } from '../context/context.js'
import { dcloginUri } from '../accounts/dclogin.js'
import { removeAccount } from '../accounts/mailbox.js'
import { exec } from '../base/exec.js'
import { ensureIdentity } from '../identity/keys.js'
import { ageFingerprint, cardText, makeCard, readCard, signFingerprint } from '../identity/card.js'
import { spkiPinOfFile } from '../tls/pin.js'
import { DEFAULT_ROUTE, PeerService, type Peer } from '../peers/service.js'
import type { NodeContext } from '../context/context.js'
import { OutpostError } from '../base/errors.js'

const USAGE = `usage: outpost COMMAND [--data DIR] ...

Setting up
  init --domain DOMAIN [--name NAME] [--host ADDR] [--listen ADDR]
       [--smtp-port N] [--smtps-port N] [--imap-port N] [--imaps-port N] [--web-port N] [--gateway]
                              make DIR a new node (config, database, TLS certificate);
                              --gateway: a gateway to the Internet, with a DKIM key (docs/gateway.md)
Running
  start                       run the node in the foreground (SMTP, IMAP, web admin)
Web admin
  admin setup-code                     the one-time code the web admin's first-run page asks for (until an admin password is set)
  admin password [--password-stdin]    set or reset the web admin's password (asks twice; --password-stdin: read one line); logs everyone out
Accounts
  account add ADDRESS [--password P]   create an account (a strong random password when none is given)
  account list                         list accounts
  account remove ADDRESS               delete an account; its mail is archived to DIR/archive/ADDRESS-TIME/, out of reach of a new account of that name
  account passwd ADDRESS [--password P] set a new password (random when none is given)
  account qr ADDRESS [--uri]           print the dclogin: QR code Delta Chat scans (--uri: the URI only)
Peers (other nodes this one exchanges mail with)
  card [--text]                        this node's card as a QR code, text and summary (--text: the one line only)
  peer add CARD|FILE [--replace]       trust another node from its card (--replace: accept a new key for a known name)
  peer list                            list peers with their domains, key fingerprints and reach
  peer remove NAME                     forget a peer and its routes
  peer add-classic NAME --domain D [--domain D]... [--nncp-node ID]
                                       a classic peer: an Exim/Postfix node sending plain batch SMTP over NNCP
                                       (or Filespooler, without --nncp-node); see docs/interop/exim.md
  classic receive [--peer NAME]        take one batch SMTP batch from a classic peer on stdin (NNCP's exec
                                       handler, the sender from NNCP_SENDER; --peer for Filespooler)
Routes (which peer mail for a domain goes to; a peer's card domains are routed to it already)
  route add DOMAIN PEER                send mail for DOMAIN to PEER (DOMAIN * is the default route)
  route list                           explicit routes and the ones implied by peers' cards
  route remove DOMAIN                  drop an explicit route
Exchange (bundles of mail and acks between nodes)
  export DIR                           write bundles for every peer with mail or acks waiting into DIR/outpost/<peer>/
  import DIR|- [--area AREA]           import the bundles for this node from DIR (or one bundle from stdin;
                                       --area: NNCP area AREA's handler, which passes over bundles for other nodes)
  queue [--peer P] [--limit N] [--after CURSOR] [--all]
                                       mail waiting per peer (count, size, oldest), then each
                                       peer's oldest messages with export count and carrier
  status                               a summary of the node
  clock [show]                         the node's time, its floor and what set it (a peer's bundle, a reset, its own evidence)
  clock reset                          the floor back to this node's own time, forgetting what peers' bundles added
                                       (when honest requests are refused as "behind"); a running node takes it within seconds
Appliance (the box's USB port, LED, button and hotspot)
  usb offload DIR                      import from and export to the stick mounted at DIR, sync it, record the outcome (the LED shows it)
  appliance run                        own the LED and button: show the USB offload on the LED; short press syncs the stick, long press powers off
  hotspot apply                        as root: write the hostapd, dnsmasq and avahi files from [hotspot] and restart what changed
  setup-file apply [--file F] [--host IP] [--authorized-keys F] [--hostname-file F]
                                       as root, at boot of the Pi image: apply outpost-setup.txt (default /boot/firmware/outpost-setup.txt),
                                       making the node on first boot; secrets are removed from the file and a note of what was applied is left
Transports (carriers of bundles to a peer, each on its own schedule)
  transport add PEER KIND [--schedule CRON] [--set KEY=VALUE]...   add a carrier (kinds: folder, ...; see transport help)
  transport list                       carriers with their schedule and last result
  transport remove ID                  drop a carrier
  transport run ID                     run a carrier now (send what waits, bring in what arrived)
  transport nncp-snippet [NEIGHBOUR] [--set handler=NAME] [--set via=RELAY,...]
                                       print the exec handler block for NNCP's config (calls \`outpost import -\`)
  transport nncp-snippet --set area=AREA [--set subs=NODE,...] [--set handler=NAME]
                                       print the areas block of an NNCP multicast area (calls \`outpost import - --area AREA\`)
  radio [ID] [--json]                  each LoRa radio: port, channel, airtime used against the duty-cycle budget,
                                       frames sent, resent, received and lost in the last day, airtime per hour
Internet (docs/gateway.md, docs/uplink.md)
  uplink [show]                        how this node reaches the Internet, online or not, and when it last was
  uplink set [--kind gateway|account|none] [--peer NAME] [--probe-seconds N]
                                       reach the Internet through gateway peer NAME (probed every N s)
  uplink smarthost set HOST:PORT --user USER (--password-stdin | --password-file FILE)
                                       a gateway sends through this relay with AUTH (password stored encrypted)
  uplink smarthost clear               send by MX again
  uplink account set ADDRESS --smtp HOST:PORT --imap HOST:PORT [--user USER] (--password-stdin | --password-file FILE) [--insecure-tls]
                                       an ordinary email account as the uplink (see docs/uplink.md for its limits)
  uplink account run | clear           send and fetch through it now; forget it
  dkim [DOMAIN] [--selector S] [--rotate]  the DKIM key a gateway signs DOMAIN's mail with, and its DNS record
  dkim list                            every DKIM key with its DNS record

Every command takes --data DIR; the default is $OUTPOST_DATA, then /var/lib/outpost.
`

/** A QR code for the terminal; the qrcode package is loaded only by the commands that print one. */
async function qrText(text: string, opts: QRCodeToStringOptions): Promise<string> {
  const { default: QRCode } = await import('qrcode')
  return QRCode.toString(text, opts)
}

export class UsageError extends OutpostError {
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

const QUEUE_FLAGS: Options = { peer: { type: 'string' }, after: { type: 'string' }, limit: { type: 'string' }, all: { type: 'boolean' } }

function queueOptions(v: Record<string, unknown>): { peer?: string; after?: string; limit?: number; all?: boolean } {
  const limit = v.limit === undefined ? undefined : Number(v.limit)
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) throw new UsageError(`--limit takes a number of messages from 1 to 1000, not "${String(v.limit)}"`)
  if (v.after !== undefined && v.peer === undefined) throw new UsageError('--after continues one peer\'s queue: give --peer too')
  return { peer: v.peer as string | undefined, after: v.after as string | undefined, limit, all: v.all === true }
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
    gateway: { type: 'boolean' },
  })
  if (typeof values.domain !== 'string') throw new UsageError('init needs --domain DOMAIN (the mail domain of this node, e.g. camp.test)')
  const data = resolveDataDir(values.data as string | undefined)
  // Loaded here, not at start-up: every other command would pay for what init needs.
  const { initNode } = await import('../node/init.js')
  const { paths, config, setupCode } = await initNode(
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
      gateway: values.gateway === true,
    },
    exec,
  )
  const p = config.ports
  console.log(`Initialised node ${config.node.name} for ${config.node.domain} in ${paths.data}`)
  console.log(`  config ${paths.config}`)
  console.log(`  keys ${paths.keysDir} (back them up: peers know this node by them; \`outpost card\` shows its card)`)
  console.log(`  ports: submission ${p.submission}, smtps ${p.smtps}, imap ${p.imap}, imaps ${p.imaps}, web ${p.web}; phones reach it at ${config.node.host}`)
  if (config.gateway.enabled) {
    const { loadDkimKey, dkimDnsRecord } = await import('../gateway/dkim.js')
    const key = loadDkimKey(paths.keysDir, config.node.domain)!
    console.log(`  gateway: takes mail for ${config.node.domain} and its peers' domains on port ${config.gateway.inbound_port}, sends the group's mail to the Internet (docs/gateway.md)`)
    console.log(`  DKIM: publish this record in the DNS of ${config.node.domain} (\`outpost dkim DOMAIN\` makes one for each group domain):`)
    console.log(`  ${dkimDnsRecord(key)}`)
  }
  console.log(`  web admin setup code: ${formatSetupCode(setupCode)} (the first-run page asks for it; \`outpost admin setup-code\` shows it again)`)
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
        const r = await removeAccount(node, need(), { exec, now: Date.now() })
        for (const w of r.warnings) console.error(`warning: ${w}`)
        console.log(`Removed ${r.address}`)
        // Archived, never left in place: a new account of the same name must not read this mail.
        console.log(r.archive ? `Its mail was archived to ${r.archive} (delete that folder when it is no longer wanted); a new ${r.address} starts with an empty mailbox.` : 'It had no mail on disk.')
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
        console.log(await qrText(uri, { type: 'terminal', small: true }))
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

/** The node with its keys (made now if it predates them) and its peers. */
async function openPeers(data: unknown): Promise<{ node: NodeContext; peers: PeerService; signB64: string }> {
  const node = openNode(resolveDataDir(data as string | undefined))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  try {
    const identity = await ensureIdentity(node.paths)
    return { node, peers: new PeerService(node.db, { domains: [node.config.node.domain], signPublicB64: identity.signPublicB64 }), signB64: identity.signPublicB64 }
  } catch (err) {
    node.close()
    throw err
  }
}

async function cmdCard(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { text: { type: 'boolean' } })
  if (positionals.length) throw new UsageError(`unexpected argument: ${positionals.join(' ')}`)
  const node = openNode(resolveDataDir(values.data as string | undefined))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  try {
    const identity = await ensureIdentity(node.paths)
    const card = makeCard({ config: node.config, identity, tlsPin: spkiPinOfFile(node.paths.tlsCert) })
    const text = cardText(card, identity.signPrivate)
    if (values.text) {
      console.log(text)
      return 0
    }
    console.log(await qrText(text, { type: 'terminal', small: true, errorCorrectionLevel: 'L' }))
    console.log(text)
    console.log('')
    console.log(`node      ${card.name}`)
    console.log(`domains   ${card.domains.join(', ')}`)
    console.log(`signing   ${signFingerprint(card.sign)}`)
    console.log(`age       ${ageFingerprint(card.age)} (${card.age})`)
    console.log(`reach     ${card.reach.map((r) => r.address).join(', ') || '(none)'}`)
    for (const r of card.reach.filter((x) => x.tls)) console.log(`tls key   ${r.tls} (peers send bundles only to a web server with this key)`)
    console.log('')
    console.log('On the other node: outpost peer add CARD (the line above, or a file holding it).')
    console.log('Hand this over in person or over a channel you trust, and compare the signing fingerprint with `outpost peer list` there:')
    console.log('a card proves only that it was made by the holder of its key, not that the key is the node you mean.')
    return 0
  } finally {
    node.close()
  }
}

function describePeer(p: Peer): string {
  // A classic peer has no key: its "fingerprint" is what vouches for it, its NNCP node.
  if (p.classic) return `${p.name}\t${p.domains.join(',')}\tclassic\t${p.classic.nncpNode ? `nncp:${p.classic.nncpNode}` : 'filespooler'}`
  return `${p.name}\t${p.domains.join(',')}\t${signFingerprint(p.sign)}\t${p.reach.map((r) => r.address).join(',') || '-'}`
}

async function cmdPeer(args: string[]): Promise<number> {
  if (args[0] === 'add-classic') {
    const { values, positionals } = parse(args.slice(1), { domain: { type: 'string', multiple: true }, 'nncp-node': { type: 'string' } })
    if (positionals.length > 1) throw new UsageError(`unexpected argument: ${positionals.slice(1).join(' ')}`)
    return await (await import('./classic.js')).cmdPeerAddClassic(positionals[0], values)
  }
  const { values, positionals } = parse(args, { replace: { type: 'boolean' } })
  const [sub, arg, ...rest] = positionals
  if (rest.length) throw new UsageError(`unexpected argument: ${rest.join(' ')}`)
  if (!['add', 'list', 'remove'].includes(sub ?? '')) throw new UsageError(`unknown peer command "${sub ?? ''}" (add, add-classic, list, remove)`)
  if (sub !== 'list' && arg === undefined) throw new UsageError(sub === 'add' ? 'peer add needs a CARD (outpost-card:…) or a FILE holding one' : 'peer remove needs a peer NAME')
  if (sub === 'list' && arg !== undefined) throw new UsageError(`unexpected argument: ${arg}`)
  // Read the card before opening the node, so a bad card is reported as such.
  const card = sub === 'add' ? readCard(arg!) : undefined
  const { node, peers } = await openPeers(values.data)
  try {
    switch (sub) {
      case 'add': {
        const r = peers.add(card!, { replace: values.replace === true })
        const what = { added: 'Added peer', unchanged: 'Already a peer, unchanged:', updated: 'Updated peer', replaced: 'Replaced the key of peer' }[r.status]
        console.log(`${what} ${r.peer.name}: ${r.peer.domains.join(', ')}`)
        console.log(`  signing key ${signFingerprint(r.peer.sign)}; check it against \`outpost card\` on that node`)
        return 0
      }
      case 'list': {
        const list = peers.list()
        if (list.length === 0) console.error('no peers yet: outpost peer add CARD')
        for (const p of list) console.log(describePeer(p))
        return 0
      }
      default: {
        const r = peers.remove(arg!)
        console.log(`Removed peer ${arg}${r.routes.length ? ` and its routes for ${r.routes.join(', ')}` : ''}`)
        return 0
      }
    }
  } finally {
    node.close()
  }
}

async function cmdRoute(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {})
  const [sub, ...rest] = positionals
  const want = { add: 2, list: 0, remove: 1 }[sub as 'add' | 'list' | 'remove']
  if (want === undefined) throw new UsageError(`unknown route command "${sub ?? ''}" (add, list, remove)`)
  if (rest.length !== want) throw new UsageError({ add: 'route add needs DOMAIN PEER', list: 'route list takes no arguments', remove: 'route remove needs a DOMAIN' }[sub as 'add' | 'list' | 'remove'])
  const { node, peers } = await openPeers(values.data)
  try {
    switch (sub) {
      case 'add': {
        const r = peers.addRoute(rest[0]!, rest[1]!)
        const what = r.domain === DEFAULT_ROUTE ? 'Mail for any other domain' : `Mail for ${r.domain}`
        console.log(`${what} now goes to peer ${rest[1]}${r.previous ? ` (it went to ${r.previous})` : ''}`)
        return 0
      }
      case 'list': {
        const list = peers.listRoutes()
        if (list.length === 0) console.error('no routes yet: peers\' card domains are routed when added; outpost route add DOMAIN PEER adds more')
        for (const r of list) console.log(`${r.domain}\t${r.peer}\t${r.implied ? (r.active ? 'card' : 'card (overridden by a route)') : r.domain === DEFAULT_ROUTE ? 'default' : 'route'}`)
        return 0
      }
      default: {
        const r = peers.removeRoute(rest[0]!)
        console.log(`Removed the route for ${r.domain} (to ${r.peer})`)
        return 0
      }
    }
  } finally {
    node.close()
  }
}

async function cmdAdmin(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, { 'password-stdin': { type: 'boolean' } })
  const admin = await import('./admin.js')
  if (positionals.length === 1 && positionals[0] === 'setup-code') return admin.cmdAdminSetupCode({ data: values.data as string | undefined })
  if (positionals[0] !== 'password' || positionals.length !== 1) throw new UsageError(`unknown admin command "${positionals.join(' ')}" (password, setup-code)`)
  return await admin.cmdAdminPassword({ data: values.data as string | undefined, passwordStdin: values['password-stdin'] === true })
}

/** export, import, queue, status and clock: bundles in and out, and what waits. */
async function cmdExchange(rest: string[], cmd: string): Promise<number> {
  const { values, positionals } = parse(rest, cmd === 'queue' ? QUEUE_FLAGS : cmd === 'import' ? { area: { type: 'string' } } : {})
  const x = await import('./exchange.js')
  if (cmd === 'clock') {
    const [sub = 'show', ...args] = positionals
    if (args.length || (sub !== 'show' && sub !== 'reset')) throw new UsageError(`unknown clock command "${positionals.join(' ')}" (show, reset)`)
    return await x.cmdClock(sub, values.data)
  }
  if (cmd === 'queue' || cmd === 'status') {
    if (positionals.length) throw new UsageError(`unexpected argument: ${positionals.join(' ')}`)
    return cmd === 'queue' ? await x.cmdQueue(values.data, queueOptions(values)) : await x.cmdStatus(values.data)
  }
  if (positionals.length !== 1) throw new UsageError(`${cmd} needs one DIR${cmd === 'import' ? ' (or - for stdin)' : ''}`)
  if (cmd === 'export') return await x.cmdExport(positionals[0]!, values.data)
  const area = values.area as string | undefined
  if (area !== undefined && positionals[0] !== '-') throw new UsageError('--area goes with import - (the exec handler of an NNCP area, one bundle on stdin), not with a folder')
  return await x.cmdImport(positionals[0]!, values.data, { area })
}

/** usb, appliance, hotspot: the box's own hardware and network. */
async function cmdBox(rest: string[], cmd: string): Promise<number> {
  const { values, positionals } = parse(rest, {})
  const [sub, ...args] = positionals
  const box = await import('./appliance.js')
  if (cmd === 'usb') {
    if (sub !== 'offload') throw new UsageError(`unknown usb command "${sub ?? ''}" (offload)`)
    if (args.length !== 1) throw new UsageError('usb offload needs one DIR (the mount point of the stick)')
    return await box.cmdUsbOffload(args[0]!, values.data)
  }
  if (cmd === 'appliance') {
    if (sub !== 'run') throw new UsageError(`unknown appliance command "${sub ?? ''}" (run)`)
    if (args.length) throw new UsageError(`unexpected argument: ${args.join(' ')}`)
    return await box.cmdApplianceRun(values.data)
  }
  if (sub !== 'apply') throw new UsageError(`unknown hotspot command "${sub ?? ''}" (apply)`)
  if (args.length) throw new UsageError(`unexpected argument: ${args.join(' ')}`)
  return await box.cmdHotspotApply(values.data)
}

async function cmdSetupFile(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, { file: { type: 'string' }, host: { type: 'string' }, 'authorized-keys': { type: 'string' }, 'hostname-file': { type: 'string' } })
  const [sub, ...args] = positionals
  if (sub !== 'apply') throw new UsageError(`unknown setup-file command "${sub ?? ''}" (apply)`)
  if (args.length) throw new UsageError(`unexpected argument: ${args.join(' ')}`)
  return await (await import('./setup-file.js')).applySetupFile({
    file: (values.file as string | undefined) ?? '/boot/firmware/outpost-setup.txt',
    data: resolveDataDir(values.data as string | undefined),
    // The hotspot's fixed address (the [hotspot] default): phones reach the box there.
    host: (values.host as string | undefined) ?? '10.42.0.1',
    authorizedKeys: (values['authorized-keys'] as string | undefined) ?? '/root/.ssh/authorized_keys',
    hostnameFile: (values['hostname-file'] as string | undefined) ?? '/etc/hostname',
  })
}

async function cmdCarrier(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, { schedule: { type: 'string' }, set: { type: 'string', multiple: true } })
  const [sub, ...args] = positionals
  const { cmdTransport, transportHelp } = await import('./transport.js')
  if (sub === 'help') {
    console.log(transportHelp())
    return 0
  }
  if (sub === 'nncp-snippet') return await (await import('./nncp.js')).cmdNncpSnippet(args, values)
  return await cmdTransport(sub, args, values)
}

async function cmdRadio(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, { json: { type: 'boolean' } })
  if (positionals.length > 1) throw new UsageError(`unexpected argument: ${positionals.slice(1).join(' ')}`)
  return (await import('./radio.js')).cmdRadio(positionals, values)
}

/** uplink and dkim: the way to the Internet. */
async function cmdGateway(rest: string[], cmd: string): Promise<number> {
  const uplink = await import('./uplink.js')
  if (cmd === 'dkim') {
    const { values, positionals } = parse(rest, { selector: { type: 'string' }, rotate: { type: 'boolean' } })
    return await uplink.cmdDkim(positionals, values)
  }
  const { values, positionals } = parse(rest, {
    kind: { type: 'string' },
    peer: { type: 'string' },
    'probe-seconds': { type: 'string' },
    user: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    'password-file': { type: 'string' },
    smtp: { type: 'string' },
    imap: { type: 'string' },
    'insecure-tls': { type: 'boolean' },
  })
  const [sub, ...args] = positionals
  return await uplink.cmdUplink(sub, args, values)
}

async function cmdClassic(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, { peer: { type: 'string' } })
  const [sub, ...args] = positionals
  if (sub !== 'receive') throw new UsageError(`unknown classic command "${sub ?? ''}" (receive)`)
  if (args.length) throw new UsageError(`unexpected argument: ${args.join(' ')}`)
  return await (await import('./classic.js')).cmdClassicReceive(values)
}

/** The commands, grouped by life cycle as USAGE lists them. */
const COMMANDS: Record<string, (rest: string[], cmd: string) => Promise<number>> = {
  // the node and its people
  init: cmdInit,
  start: cmdStart,
  account: cmdAccount,
  admin: cmdAdmin,
  // peers and routes
  card: cmdCard,
  peer: cmdPeer,
  route: cmdRoute,
  classic: cmdClassic,
  // bundles
  export: cmdExchange,
  import: cmdExchange,
  queue: cmdExchange,
  status: cmdExchange,
  clock: cmdExchange,
  // the box
  usb: cmdBox,
  appliance: cmdBox,
  hotspot: cmdBox,
  'setup-file': cmdSetupFile,
  // carriers and the Internet
  transport: cmdCarrier,
  radio: cmdRadio,
  uplink: cmdGateway,
  dkim: cmdGateway,
}

export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  try {
    if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      console.log(USAGE)
      return cmd === undefined ? 2 : 0
    }
    const command = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined
    if (!command) throw new UsageError(`unknown command "${cmd}"`)
    return await command(rest, cmd)
  } catch (err) {
    return printError(err)
  }
}

/** A usage error shows the usage; an error meant for people (OutpostError) its message; anything else is a bug, with its stack. */
function printError(err: unknown): number {
  if (err instanceof UsageError) {
    console.error(`outpost: ${err.message}\n\n${USAGE}`)
    return 2
  }
  if (err instanceof OutpostError) {
    console.error(`outpost: ${err.message}`)
    return 1
  }
  const e = err as Error
  console.error(`outpost: ${e.stack ?? e.message}`)
  return 1
}
