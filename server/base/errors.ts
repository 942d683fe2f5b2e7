// Errors meant for people. A thrown OutpostError says what failed, which
// file, peer or setting, and what to do; the CLI prints its message alone,
// without a stack trace, and the web admin shows it. Every other error is a
// bug, and keeps its stack.
export class OutpostError extends Error {
  override name = 'OutpostError'
}
