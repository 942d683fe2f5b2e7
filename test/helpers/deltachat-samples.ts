// Real short Delta Chat messages (test/fixtures/deltachat/, captured from
// the real core by build/deltachat-samples.ts) as their phone submitted
// them: the trace headers Dovecot's delivery put on top are taken off and
// the lines end in CRLF again, as on the SMTP wire.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const DIR = fileURLToPath(new URL('../fixtures/deltachat/', import.meta.url))
const TRACE = /^(Return-Path|Delivered-To|X-Outpost-Delivery|Authentication-Results|Received):/i

export interface DeltaChatSample {
  name: string
  /** Who sent it: the address in its From header. */
  sender: string
  data: Buffer
}

/** The submitted form of a message Dovecot stored. */
export function submittedForm(stored: string): Buffer {
  const lines = stored.replace(/\r\n/g, '\n').split('\n')
  let i = 0
  while (i < lines.length && TRACE.test(lines[i]!)) {
    i++
    while (i < lines.length && /^[ \t]/.test(lines[i]!)) i++
  }
  return Buffer.from(lines.slice(i).join('\r\n'), 'latin1')
}

export function deltaChatSamples(): DeltaChatSample[] {
  return readdirSync(DIR).filter((n) => n.endsWith('.eml')).sort().map((name) => {
    const data = submittedForm(readFileSync(DIR + name, 'latin1'))
    const sender = /^From:.*<([^>]+)>/im.exec(data.toString('latin1'))?.[1] ?? 'unknown@invalid'
    return { name, sender, data }
  })
}

/** Samples the narrow dictionary is made from; the others are left to measure it on. */
export const DICTIONARY_SAMPLES = ['short-01.eml', 'short-02.eml', 'short-07.eml', 'short-08.eml']
