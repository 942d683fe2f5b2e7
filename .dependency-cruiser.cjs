// The direction imports may take between the folders of server/. The list
// runs from the faces at the top down to the toolbox at the bottom; a folder
// may import only the folders below it, never one above (a back-edge would
// tie two steps of the mail's path into one loop again). `npm run deps`
// checks it in CI.
//
// The path of the mail is: haraka (submission and policy) → routing →
// delivery (local) or outbox → bundle → exchange → transports, and back in
// through exchange's import → routing again.
const LAYERS = [
  'cli', // the command line: the entry point, wires what a command needs
  'node', // the composition root: makes a node and starts its services
  'web', // the HTTP face: admin API, health, the peers' bundle inbox
  'admin', // the admin account, settings, setup code
  'appliance', // the box: USB sticks, LED, button, hotspot, setup file
  'haraka', // the SMTP adapter: config render and thin plugins
  'dovecot', // the IMAP/LMTP server's config and process
  'gateway', // the Internet edge: uplink, DKIM, monitor
  'transports', // the carriers, their scheduler and LAN discovery
  'exchange', // export, import and carry of bundles
  'outbox', // mail waiting for a peer
  'delivery', // local delivery: the ledger, LMTP, the 250
  'routing', // the next hop, sender checks
  'peers', // trusted peers and their cards
  'bundle', // the bundle format and the stick layout
  'identity', // the node's keys and card
  'tls', // certificates
  'context', // the opened node: paths, config, database, accounts, clock
  'accounts', // mail accounts and invites
  'events', // the event log
  'db', // the SQLite schema and migrations
  'config', // outpost.toml
  'base', // the toolbox: durable writes, exec, clock, locks, errors
]

const backEdges = LAYERS.slice(1).map((layer, i) => ({
  name: `${layer}-not-upward`,
  comment: `server/${layer} may import only the folders below it (see LAYERS)`,
  severity: 'error',
  from: { path: `^server/${layer}/` },
  to: { path: `^server/(${LAYERS.slice(0, i + 1).join('|')})/` },
}))

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'modules must not import each other in a loop',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-loose-files',
      comment: 'every module of server/ belongs to one folder of the path',
      severity: 'error',
      from: { path: '^server/[^/]+$' },
      to: {},
    },
    {
      name: 'no-unknown-folder',
      comment: 'a new folder of server/ gets its place in LAYERS first',
      severity: 'error',
      from: { path: '^server/', pathNot: `^server/(${LAYERS.join('|')})/` },
      to: {},
    },
    ...backEdges,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
}
