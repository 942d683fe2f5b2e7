// The web API's contract: the TypeBox schemas of what the routes answer and
// take, each with its static type beside it. The routes validate and
// serialise with the schemas; the web admin (web/src/lib/api.ts) imports the
// types, and docs/web-api.md's tables are generated from the routes that use
// them (build/web-api-doc.ts), so the three cannot drift apart.
//
// This module imports TypeBox and type-only modules and nothing else: the web
// app's type-check reads it, and no server code may come along with it.
import { Type, type Static } from '@sinclair/typebox'
import type { EventKind, OutpostEvent } from '../events/types.js'

/** Every error answer: what went wrong, said so a person can act on it. */
export const ErrorBody = Type.Object({ error: Type.String(), statusCode: Type.Integer() })
export type ErrorBody = Static<typeof ErrorBody>

export const Check = Type.Object({ ok: Type.Boolean(), detail: Type.String() })
export type Check = Static<typeof Check>

// ---- auth ----
export const AuthState = Type.Object({ setup: Type.Boolean(), loggedIn: Type.Boolean(), csrf: Type.Optional(Type.String()) })
export type AuthState = Static<typeof AuthState>
export const CsrfAnswer = Type.Object({ csrf: Type.String() })
export type CsrfAnswer = Static<typeof CsrfAnswer>

// ---- clock ----
/** The node's clock (base/clock.ts ClockReport): times in ms since the epoch. */
export const ClockReport = Type.Object({
  now: Type.Number(),
  wall: Type.Number(),
  floor: Type.Number(),
  vouched: Type.Number(),
  behindMs: Type.Number(),
  peerLeadMs: Type.Number(),
  leadLimitMs: Type.Number(),
  source: Type.Union([Type.Object({ kind: Type.Union([Type.Literal('evidence'), Type.Literal('peer'), Type.Literal('reset')]), peer: Type.Optional(Type.String()), at: Type.Number() }), Type.Null()]),
})
export type ClockReport = Static<typeof ClockReport>

// ---- transports' runs ----
export const Run = Type.Object({
  id: Type.Integer(),
  startedAt: Type.Number(),
  finishedAt: Type.Union([Type.Number(), Type.Null()]),
  ok: Type.Union([Type.Boolean(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  bytesOut: Type.Number(),
  bytesIn: Type.Number(),
  /** One line on what the run carried, e.g. "sent 3 messages … imported 1 of 1 bundles". */
  detail: Type.Union([Type.String(), Type.Null()], { description: 'one line on what the run carried' }),
})
export type Run = Static<typeof Run>

export const TransportSummary = Type.Object({
  id: Type.Integer(),
  peer: Type.String(),
  kind: Type.String(),
  schedule: Type.String(),
  lastRun: Type.Union([Run, Type.Null()]),
  nextRun: Type.Union([Type.Number(), Type.Null()]),
})
export type TransportSummary = Static<typeof TransportSummary>

// ---- dashboard ----
export const Dashboard = Type.Object({
  node: Type.Object({ name: Type.String(), domain: Type.String(), version: Type.String() }),
  health: Type.Object({
    smtp: Check,
    imap: Check,
    disk: Type.Intersect([Check, Type.Object({ freeBytes: Type.Number(), totalBytes: Type.Number() })]),
    queue: Type.Intersect([Check, Type.Object({ messages: Type.Integer(), bytes: Type.Number(), oldestAt: Type.Union([Type.Number(), Type.Null()]) })]),
  }),
  transports: Type.Array(TransportSummary),
  clock: ClockReport,
})
export type Dashboard = Static<typeof Dashboard>

export const TrafficDay = Type.Object({ day: Type.String(), received: Type.Integer(), sent: Type.Integer(), local: Type.Integer() })
export type TrafficDay = Static<typeof TrafficDay>
export const Traffic = Type.Object({ days: Type.Array(TrafficDay) })
export type Traffic = Static<typeof Traffic>

// ---- accounts ----
export const Account = Type.Object({ address: Type.String(), createdAt: Type.Number(), quotaMb: Type.Union([Type.Integer(), Type.Null()]), usedBytes: Type.Number() })
export type Account = Static<typeof Account>
/** One page of accounts by address, of those whose address contains `search`. */
export const Accounts = Type.Object({
  items: Type.Array(Account),
  /** How many accounts match the search (all of them without one). */
  total: Type.Integer(),
  /** Pass as `after` for the next page; null on the last. */
  next: Type.Union([Type.String(), Type.Null()]),
})
export type Accounts = Static<typeof Accounts>
/** A page is 50 accounts unless asked otherwise, and at most 200 (the account service's ACCOUNT_PAGE and ACCOUNT_PAGE_MAX). */
export const AccountsParams = Type.Object({
  search: Type.Optional(Type.String({ maxLength: 320, description: 'a part of the address, in any case' })),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
})
export type AccountsParams = Static<typeof AccountsParams>
export const AccountPassword = Type.String({ minLength: 9, maxLength: 256 })
export const NewAccount = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'the part before @' })),
    address: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
    password: Type.Optional(AccountPassword),
  },
  { additionalProperties: false },
)
export type NewAccount = Static<typeof NewAccount>
export const Credentials = Type.Object({ address: Type.String(), password: Type.String(), dclogin: Type.String(), qrSvg: Type.String() })
export type Credentials = Static<typeof Credentials>
export const Invite = Type.Object({ code: Type.String(), createdAt: Type.Number(), expiresAt: Type.Number(), maxUses: Type.Integer(), uses: Type.Integer(), url: Type.String() })
export const NewInvite = Type.Intersect([Invite, Type.Object({ qrSvg: Type.String() })])
/** An invite; a new one comes with the QR code of its URL. */
export type Invite = Static<typeof Invite> & { qrSvg?: string }

// ---- public ----
export const PublicInfo = Type.Object({ name: Type.String(), domain: Type.String(), firstLogin: Type.Boolean() })
export type PublicInfo = Static<typeof PublicInfo>

// ---- peers and routes ----
export const SelfCard = Type.Object({ name: Type.String(), domain: Type.String(), card: Type.String(), qrSvg: Type.String() })
export type SelfCard = Static<typeof SelfCard>
export const Peer = Type.Object({
  name: Type.String(),
  domains: Type.Array(Type.String()),
  reach: Type.Array(Type.Object({ kind: Type.String(), address: Type.String(), tls: Type.Optional(Type.String({ description: 'the pin of the TLS key its web server must answer with' })) })),
  fingerprint: Type.String({ description: "the signing key's fingerprint, to compare with `outpost card` on that node" }),
  addedAt: Type.Number(),
})
export type Peer = Static<typeof Peer>
export const PeerAdded = Type.Object({ status: Type.Union([Type.Literal('added'), Type.Literal('unchanged'), Type.Literal('updated'), Type.Literal('replaced')]), peer: Peer })
export type PeerAdded = Static<typeof PeerAdded>
export const Route = Type.Object({ domain: Type.String(), peer: Type.String(), source: Type.Union([Type.Literal('manual'), Type.Literal('card')]) })
export type Route = Static<typeof Route>
export const PeerRemoved = Type.Object({ routes: Type.Array(Type.String()) })
export type PeerRemoved = Static<typeof PeerRemoved>
export const RouteAdded = Type.Object({ domain: Type.String(), previous: Type.Optional(Type.String()) })
export type RouteAdded = Static<typeof RouteAdded>

// ---- transports ----
/** How the routes show a stored secret (transports/service.ts SECRET_MASK; ops/transports.ts checks they agree). */
export const SECRET_SHOWN_AS = '••••'
export const Transport = Type.Object({
  id: Type.Integer(),
  peer: Type.String(),
  kind: Type.String(),
  schedule: Type.String(),
  options: Type.Record(Type.String(), Type.String(), { description: `settings; passwords and API keys are shown as "${SECRET_SHOWN_AS}"` }),
  lastRun: Type.Union([Run, Type.Null()]),
  nextRuns: Type.Array(Type.Number()),
  running: Type.Boolean(),
})
export type Transport = Static<typeof Transport>
export const TransportKind = Type.Object({
  kind: Type.String(),
  summary: Type.String(),
  defaultSchedule: Type.String(),
  options: Type.Array(Type.Object({ name: Type.String(), required: Type.Boolean(), secret: Type.Boolean(), help: Type.String(), default: Type.Optional(Type.String()) })),
})
export type TransportKind = Static<typeof TransportKind>
export const Schedule = Type.String({ minLength: 1, maxLength: 200, description: 'a cron expression (node-cron: five fields, or six with seconds first), or "event"' })
export const NewTransport = Type.Object(
  { peer: Type.String({ minLength: 1, maxLength: 64 }), kind: Type.String({ minLength: 1, maxLength: 32 }), options: Type.Record(Type.String(), Type.String({ maxLength: 4096 })), schedule: Type.Optional(Schedule) },
  { additionalProperties: false },
)
export type NewTransport = Static<typeof NewTransport>
export const SchedulePreview = Type.Object({ valid: Type.Boolean(), error: Type.Optional(Type.String()), text: Type.Optional(Type.String()), next: Type.Array(Type.Number()) })
export type SchedulePreview = Static<typeof SchedulePreview>
export const Started = Type.Object({ started: Type.Literal(true) })
export type Started = Static<typeof Started>

// ---- radios (LoRa transports) ----
const RadioFigures = Type.Object({
  airtimeMs: Type.Integer({ description: 'time on air transmitting, ms' }),
  framesSent: Type.Integer(),
  framesResent: Type.Integer({ description: 'frames sent again because the peer did not have them' }),
  framesReceived: Type.Integer(),
  framesBad: Type.Integer({ description: 'frames heard but unreadable (corrupted on air)' }),
  acksMissed: Type.Integer({ description: 'polls whose ACK never came back: lost on air one way or the other' }),
})
export const Radio = Type.Object({
  transportId: Type.Integer(),
  peer: Type.String(),
  port: Type.String(),
  listening: Type.Union([Type.Boolean(), Type.Null()], { description: 'open and receiving between runs; null where not known' }),
  firmware: Type.String(),
  region: Type.String(),
  frequencyHz: Type.Integer(),
  sf: Type.Integer({ minimum: 7, maximum: 12 }),
  bandwidthHz: Type.Integer(),
  codingRate: Type.Integer({ description: 'denominator: 5 means 4/5' }),
  txPowerDbm: Type.Integer(),
  payloadBytes: Type.Integer(),
  dutyPercent: Type.Number(),
  budget: Type.Object({ usedMs: Type.Integer(), limitMs: Type.Integer() }, { description: 'airtime in the sliding hour the duty cycle counts, against what it allows' }),
  day: RadioFigures,
  hours: Type.Array(Type.Object({ hour: Type.Number({ description: 'the hour\'s start, ms since the epoch' }), airtimeMs: Type.Integer() }), { description: 'the last 24 hours, oldest first' }),
})
export type Radio = Static<typeof Radio>

// ---- queue ----
export const QueuedMessage = Type.Object({
  messageId: Type.String({ description: "the node's stable id of the message (a hash), not its Message-ID header" }),
  peer: Type.String(),
  size: Type.Integer(),
  queuedAt: Type.Number(),
  /** How often it left, by any carrier. */
  exports: Type.Integer(),
  /** The bundle that last carried it; null while it was never exported. */
  bundleId: Type.Union([Type.String(), Type.Null()]),
  /** When it last left (0: a retry marked it due again); null while it never left. */
  exportedAt: Type.Union([Type.Number(), Type.Null()]),
  /** The carrier it last left by: folder, usb, http, nncp, …; null while it never left. */
  via: Type.Union([Type.String(), Type.Null()]),
  /**
   * Why narrow carriers of the peer (a LoRa radio) do not take it: larger
   * than their limit. `wider`: another carrier of the peer takes it;
   * `only-narrow`: none does, so it waits until a wider carrier is added or
   * a limit raised. Null when every carrier takes it.
   */
  held: Type.Union([
    Type.Object({
      kind: Type.Union([Type.Literal('wider'), Type.Literal('only-narrow')]),
      reason: Type.String({ description: 'one line a person can act on' }),
    }),
    Type.Null(),
  ]),
})
export type QueuedMessage = Static<typeof QueuedMessage>
export const Queue = Type.Object({
  /** What waits for each peer: SQL aggregates, whatever the page. */
  peers: Type.Array(
    Type.Object({
      peer: Type.String(),
      messages: Type.Integer(),
      bytes: Type.Number(),
      oldestAt: Type.Number(),
      /** Messages some narrow carrier of the peer holds for a wider one. */
      held: Type.Integer(),
      /** Of those, the ones no carrier of the peer takes (only narrow carriers reach it). */
      heldOnlyNarrow: Type.Integer(),
      /** The line that says what is held and why; null when nothing is. */
      holdNote: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  totals: Type.Object({ messages: Type.Integer(), bytes: Type.Number() }),
  /** One page of the waiting messages, oldest first: of `peer` when given, else of all peers. */
  items: Type.Array(QueuedMessage),
  /** Pass as `after` for the next page; null on the last. */
  next: Type.Union([Type.String(), Type.Null()]),
})
export type Queue = Static<typeof Queue>
/** A page is 100 messages unless asked otherwise, and at most 1000 (the outbox's DEFAULT_PAGE and MAX_PAGE). */
export const QueueParams = Type.Object({
  peer: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
})
export type QueueParams = Static<typeof QueueParams>
export const Retried = Type.Object({ messages: Type.Integer() })
export type Retried = Static<typeof Retried>

// ---- USB ----
export const Stick = Type.Object({ path: Type.String(), label: Type.String(), bundles: Type.Integer(), freeBytes: Type.Number() })
export type Stick = Static<typeof Stick>
export const Usb = Type.Object({ sticks: Type.Array(Stick), offloading: Type.Union([Type.String(), Type.Null()]) })
export type Usb = Static<typeof Usb>
export const Ejected = Type.Object({ safe: Type.Boolean() })
export type Ejected = Static<typeof Ejected>

// ---- settings ----
export const Settings = Type.Object({
  node: Type.Object({ name: Type.String(), domain: Type.String() }),
  limits: Type.Object({ messageBytes: Type.Integer(), perMinute: Type.Integer(), burst: Type.Integer() }),
  retention: Type.Object({ days: Type.Integer(), largeDays: Type.Integer() }),
  firstLogin: Type.Object({ enabled: Type.Boolean() }),
  hotspot: Type.Object({ ssid: Type.String(), passphraseSet: Type.Boolean(), channel: Type.Integer() }),
})
export type Settings = Static<typeof Settings>
const closed = { additionalProperties: false } as const
export const SettingsPatch = Type.Object(
  {
    node: Type.Optional(Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })), domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })) }, closed)),
    limits: Type.Optional(
      Type.Object(
        {
          messageBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024 })),
          perMinute: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
        },
        closed,
      ),
    ),
    retention: Type.Optional(Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })), largeDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })) }, closed)),
    firstLogin: Type.Optional(Type.Object({ enabled: Type.Optional(Type.Boolean()) }, closed)),
    hotspot: Type.Optional(
      Type.Object({ ssid: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })), passphrase: Type.Optional(Type.String({ minLength: 8, maxLength: 63 })), channel: Type.Optional(Type.Integer({ minimum: 1, maximum: 196 })) }, closed),
    ),
  },
  closed,
)
export type SettingsPatch = Static<typeof SettingsPatch>
export const SettingsSaved = Type.Intersect([Settings, Type.Object({ restartNeeded: Type.Array(Type.String()) })])
export type SettingsSaved = Static<typeof SettingsSaved>

// ---- Internet uplink ----
/** gateway/uplink.ts UPLINK_KINDS; ops/uplink.ts checks they agree. */
export const UplinkKind = Type.Union([Type.Literal('none'), Type.Literal('gateway'), Type.Literal('account')])
export type UplinkKind = Static<typeof UplinkKind>
export const DkimRecord = Type.Object({
  domain: Type.String(),
  selector: Type.String(),
  /** Where the record goes: SELECTOR._domainkey.DOMAIN */
  name: Type.String({ description: 'where the record goes: SELECTOR._domainkey.DOMAIN' }),
  /** The TXT value as one string (what a DNS provider's form takes). */
  value: Type.String({ description: "the TXT value as one string (what a DNS provider's form takes)" }),
  /** The zone-file line, exactly as `outpost dkim` prints it. */
  record: Type.String({ description: 'the zone-file line, exactly as `outpost dkim` prints it' }),
})
export type DkimRecord = Static<typeof DkimRecord>
export const DkimAnswer = Type.Object({ created: Type.Boolean(), key: DkimRecord })
export type DkimAnswer = Static<typeof DkimAnswer>

export const Uplink = Type.Object({
  gateway: Type.Boolean({ description: 'this node is a gateway ([gateway] enabled in outpost.toml)' }),
  kind: UplinkKind,
  peer: Type.Union([Type.String(), Type.Null()]),
  probeSeconds: Type.Integer(),
  online: Type.Union([Type.Boolean(), Type.Null()], { description: 'what the last probe found; null: not probed yet' }),
  lastOnline: Type.Union([Type.Number(), Type.Null()]),
  // The password is never sent back: only whether one is stored.
  smarthost: Type.Union([Type.Object({ host: Type.String(), port: Type.Integer(), user: Type.String(), passwordSet: Type.Boolean() }), Type.Null()]),
  account: Type.Union([
    Type.Object({
      address: Type.String(),
      smtpHost: Type.String(),
      smtpPort: Type.Integer(),
      imapHost: Type.String(),
      imapPort: Type.Integer(),
      user: Type.String(),
      insecureTls: Type.Boolean(),
      passwordSet: Type.Boolean(),
    }),
    Type.Null(),
  ]),
  dkim: Type.Array(DkimRecord),
})
export type Uplink = Static<typeof Uplink>

const Host = Type.String({ minLength: 1, maxLength: 253 })
const Port = Type.Integer({ minimum: 1, maximum: 65535 })
const UplinkPassword = Type.String({ minLength: 1, maxLength: 1024 })
export const UplinkPatch = Type.Object(
  { kind: Type.Optional(UplinkKind), peer: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), probeSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })) },
  { additionalProperties: false, minProperties: 1 },
)
export type UplinkPatch = Static<typeof UplinkPatch>
export const SmarthostInput = Type.Object({ host: Host, port: Port, user: Type.String({ minLength: 1, maxLength: 320 }), password: UplinkPassword }, { additionalProperties: false })
export type SmarthostInput = Static<typeof SmarthostInput>
export const AccountUplinkInput = Type.Object(
  {
    address: Type.String({ minLength: 3, maxLength: 320 }),
    smtpHost: Host,
    smtpPort: Port,
    imapHost: Host,
    imapPort: Port,
    user: Type.Optional(Type.String({ maxLength: 320 })),
    password: UplinkPassword,
    insecureTls: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)
export type AccountUplinkInput = Static<typeof AccountUplinkInput>
export const DkimRequest = Type.Object(
  {
    domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: "default: the node's domain" })),
    rotate: Type.Optional(Type.Boolean()),
    selector: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  },
  { additionalProperties: false },
)
export type DkimRequest = Static<typeof DkimRequest>

// ---- activity ----
/** One event of any kind, its `data` typed by its kind through the shared event map (events/types.ts). */
export type AnyEvent = { [K in EventKind]: OutpostEvent<K> }[EventKind]
/**
 * On the wire `data` is an object whose fields depend on `kind`; the static
 * type is the union over the event map, so both ends check each kind's data.
 */
export const Event = Type.Unsafe<AnyEvent>(
  Type.Object({
    id: Type.Integer({ description: '0 for progress, which is pushed live but not stored' }),
    at: Type.Number(),
    kind: Type.String({ description: 'the event kind, e.g. transport.run (server/events/types.ts lists them with their data)' }),
    data: Type.Record(Type.String(), Type.Unknown()),
  }),
)
export const EventQuery = Type.Object(
  {
    before: Type.Optional(Type.Integer({ minimum: 1 })),
    kinds: Type.Optional(Type.String({ pattern: '^[a-z]+(\\.[a-z]+)?(,[a-z]+(\\.[a-z]+)?)*$', description: 'comma-separated event kinds, e.g. message.delivered,transport.run' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  },
  { additionalProperties: false },
)
export type EventQuery = Static<typeof EventQuery>
