// LoRa time on air, by the formula in Semtech's "LoRa Modem Designer's
// Guide" (AN1200.13) and the SX127x/SX126x data sheets: the preamble of
// (n + 4.25) symbols, then 8 symbols plus the payload's coded symbols.
// The duty-cycle budget (duty-cycle.ts) and the simulator both charge
// every frame by it.

export interface LoraModulation {
  /** Spreading factor, 6 to 12. */
  sf: number
  /** Bandwidth in Hz: 7800 to 500000; 125000 is the usual. */
  bw: number
  /** Coding rate denominator: 5 to 8 for 4/5 to 4/8. */
  cr: number
  /** Preamble symbols as programmed (8 in LoRaWAN; RNode picks its own, often more). */
  preamble: number
  /** Explicit header (the default on every radio that speaks KISS). */
  explicitHeader?: boolean
  crc?: boolean
  /** Low data rate optimisation; by default on when a symbol lasts 16 ms or more (SF11 and SF12 at 125 kHz), as radios set it. */
  lowDataRateOptimize?: boolean
}

export const BANDWIDTHS_HZ = [7800, 10400, 15600, 20800, 31250, 41700, 62500, 125000, 250000, 500000]

/** One symbol, in milliseconds. */
export function symbolMs(m: Pick<LoraModulation, 'sf' | 'bw'>): number {
  return (2 ** m.sf / m.bw) * 1000
}

/** Milliseconds on air for a frame of `payloadBytes` (the radio's payload: what KISS hands it). */
export function airtimeMs(m: LoraModulation, payloadBytes: number): number {
  const tsym = symbolMs(m)
  const de = (m.lowDataRateOptimize ?? tsym >= 16) ? 1 : 0
  const ih = m.explicitHeader === false ? 1 : 0
  const crc = m.crc === false ? 0 : 1
  const preambleMs = (m.preamble + 4.25) * tsym
  const num = 8 * payloadBytes - 4 * m.sf + 28 + 16 * crc - 20 * ih
  const den = 4 * (m.sf - 2 * de)
  const payloadSymbols = 8 + Math.max(Math.ceil(num / den) * m.cr, 0)
  return preambleMs + payloadSymbols * tsym
}

/** Raw bit rate in bits per second, as radio tables quote it: SF · BW / 2^SF · 4/CR. */
export function bitRate(m: Pick<LoraModulation, 'sf' | 'bw' | 'cr'>): number {
  return (m.sf * m.bw) / 2 ** m.sf * (4 / m.cr)
}
