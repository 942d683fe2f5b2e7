// The answer to a pickup (POST /api/peer/pickup): the bundles waiting for
// the asking peer, one after another, each as
//
//   <file name>\n<length in bytes, decimal>\n<the bundle's bytes>
//
// The name is a bundle file name (bundle/format.ts); an empty answer means
// nothing waits. Each bundle is signed and encrypted on its own, so the
// framing needs no integrity of its own: a cut answer loses only the last
// bundle, which is sent again with the next pickup.
import { isFinishedBundleName } from '../bundle/stick-layout.js'
import { OutpostError } from '../base/errors.js'

export const PICKUP_CONTENT_TYPE = 'application/x-outpost-bundles'

export class PickupFormatError extends OutpostError {
  override name = 'PickupFormatError'
}

export function frameBundles(bundles: readonly { name: string; bytes: Buffer }[]): Buffer {
  const parts: Buffer[] = []
  for (const b of bundles) {
    if (/[\r\n]/.test(b.name)) throw new PickupFormatError(`bundle name ${JSON.stringify(b.name)} has a line break`)
    parts.push(Buffer.from(`${b.name}\n${b.bytes.length}\n`, 'utf8'), b.bytes)
  }
  return Buffer.concat(parts)
}

export function unframeBundles(body: Buffer, maxBundleBytes: number): { name: string; bytes: Buffer }[] {
  const out: { name: string; bytes: Buffer }[] = []
  let at = 0
  while (at < body.length) {
    const nl1 = body.indexOf(0x0a, at)
    const nl2 = nl1 === -1 ? -1 : body.indexOf(0x0a, nl1 + 1)
    if (nl1 === -1 || nl2 === -1) throw new PickupFormatError(`the pickup answer is cut short at byte ${at}`)
    const name = body.subarray(at, nl1).toString('utf8')
    const lenText = body.subarray(nl1 + 1, nl2).toString('latin1')
    const len = /^[0-9]{1,12}$/.test(lenText) ? Number(lenText) : -1
    // The name is only ever used for a quarantine file (basename'd there too), but nothing with a path in it is taken.
    if (!/^[A-Za-z0-9._-]+$/.test(name) || !isFinishedBundleName(name)) throw new PickupFormatError(`"${name.slice(0, 80)}" in the pickup answer is not a bundle file name`)
    if (len < 0 || len > maxBundleBytes) throw new PickupFormatError(`bundle ${name} in the pickup answer has a bad length "${lenText.slice(0, 20)}"`)
    if (nl2 + 1 + len > body.length) throw new PickupFormatError(`bundle ${name} in the pickup answer is cut short`)
    out.push({ name, bytes: body.subarray(nl2 + 1, nl2 + 1 + len) })
    at = nl2 + 1 + len
  }
  return out
}
