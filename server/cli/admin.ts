// `outpost admin password`: sets or resets the web admin's password from the
// box's terminal (the way back in when it is forgotten). Every session ends,
// so whoever held the old password is logged out.
// `outpost admin setup-code`: shows the one-time code that claims an
// unclaimed box on the first-run page (server/admin/setup-code.ts).
import { createInterface } from 'node:readline'
import { openNode } from '../context/context.js'
import { resolveDataDir } from '../base/paths.js'
import { AdminAuth } from '../admin/auth.js'
import { formatSetupCode, SetupCodeFile } from '../admin/setup-code.js'

/** The password from stdin: its first line, for scripts (`--password-stdin`). */
async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) {
    chunks.push(c as Buffer)
    if (Buffer.concat(chunks).includes(10)) break
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? ''
}

/** Asks on the terminal without echoing what is typed. */
function ask(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
    const out = rl as unknown as { _writeToOutput: (s: string) => void }
    let muted = false
    out._writeToOutput = (s: string) => {
      if (!muted || s.includes('\n')) process.stderr.write(muted ? '\n' : s)
    }
    rl.question(question, (answer) => {
      rl.close()
      resolve(answer)
    })
    muted = true
  })
}

export async function cmdAdminPassword(opts: { data?: string; passwordStdin?: boolean }): Promise<number> {
  const node = openNode(resolveDataDir(opts.data))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  try {
    let password: string
    if (opts.passwordStdin) {
      password = await readStdinLine()
    } else {
      if (!process.stdin.isTTY) throw new Error('no terminal to ask on: pipe the password in with --password-stdin')
      password = await ask('New admin password: ')
      if ((await ask('Again: ')) !== password) {
        console.error('outpost: the two passwords differ; nothing changed')
        return 1
      }
    }
    // Setting it here claims the box: the setup code is deleted, it is no longer needed.
    const auth = new AdminAuth(node.db, Date.now, new SetupCodeFile(node.paths.setupCode))
    const had = auth.isSetUp()
    await auth.setPassword(password)
    console.log(had ? 'Admin password reset; everyone logged in to the web admin is logged out.' : 'Admin password set.')
    console.log(`Log in at https://${node.config.node.host}:${node.config.ports.web}/`)
    return 0
  } finally {
    node.close()
  }
}

export function cmdAdminSetupCode(opts: { data?: string }): number {
  const node = openNode(resolveDataDir(opts.data))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  try {
    const url = `https://${node.config.node.host}:${node.config.ports.web}/`
    if (new AdminAuth(node.db).isSetUp()) {
      console.error(`outpost: the web admin already has a password, so there is no setup code; log in at ${url} (forgotten? outpost admin password)`)
      return 1
    }
    // Made now if the data dir has none (a node set up before setup codes existed).
    const { code } = new SetupCodeFile(node.paths.setupCode).ensure()
    console.log(formatSetupCode(code))
    console.error(`Open ${url} and enter this code with the new admin password. It works once, and only until a password is set.`)
    return 0
  } finally {
    node.close()
  }
}
