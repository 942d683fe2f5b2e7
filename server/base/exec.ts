// The one seam through which Outpost runs system binaries (openssl, doveconf,
// doveadm, ...). Tests and callers may pass their own implementation.
import { execFile } from 'node:child_process'

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

export type Exec = (file: string, args: readonly string[], opts?: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv; timeoutMs?: number }) => Promise<ExecResult>

export const exec: Exec = (file, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(Object.assign(new Error(`${file} is not installed or not on PATH`), { code: 'ENOENT' }))
          return
        }
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
    if (opts.input !== undefined) {
      // A child that exits without reading all of its input (a missing
      // config, a wrong node name) closes the pipe; the EPIPE must not crash
      // the caller, and the exit code above already reports the failure.
      child.stdin?.on('error', () => {})
      // Binary input (a sealed bundle for nncp-exec) is written as is, not re-encoded.
      child.stdin?.end(opts.input)
    }
  })

/** Runs a binary and throws an error naming it and its stderr when it fails. */
export async function execOk(run: Exec, file: string, args: readonly string[], opts?: Parameters<Exec>[2]): Promise<string> {
  const r = await run(file, args, opts)
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`)
  return r.stdout
}
