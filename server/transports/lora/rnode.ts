// RNode firmware (unsigned.io, markqvist/RNode_Firmware) speaks KISS with
// extra command bytes that set up the radio; the host must send them before
// the radio transmits, as Reticulum's RNodeInterface does. Plain KISS TNCs
// are set up by their own tools and get none of these.
import { kissEncode } from './kiss.js'
import type { LoraModulation } from './airtime.js'

const CMD_FREQUENCY = 0x01
const CMD_BANDWIDTH = 0x02
const CMD_TXPOWER = 0x03
const CMD_SF = 0x04
const CMD_CR = 0x05
const CMD_RADIO_STATE = 0x06
const RADIO_STATE_ON = 0x01

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}

/** The KISS frames that set an RNode to this channel and modulation and turn its radio on, in the order RNodeInterface sends them. */
export function rnodeSetup(o: { frequency: number; txPower: number; modulation: Pick<LoraModulation, 'sf' | 'bw' | 'cr'> }): Buffer {
  return Buffer.concat([
    kissEncode(u32be(o.frequency), CMD_FREQUENCY),
    kissEncode(u32be(o.modulation.bw), CMD_BANDWIDTH),
    kissEncode(Buffer.from([o.txPower & 0xff]), CMD_TXPOWER),
    kissEncode(Buffer.from([o.modulation.sf]), CMD_SF),
    kissEncode(Buffer.from([o.modulation.cr]), CMD_CR),
    kissEncode(Buffer.from([RADIO_STATE_ON]), CMD_RADIO_STATE),
  ])
}
