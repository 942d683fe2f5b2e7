// The layout of a stick (or any folder carriers share): bundles for a node
// sit in outpost/<node name>/, one file each, named by bundleFileName
// (format.ts). A file is written under a name that does not count (a leading
// "." or a ".tmp" end) and renamed when complete, so a pulled stick never
// leaves half a bundle that looks finished. docs/bundle-format.md has the
// contract in full.
import { join } from 'node:path'
import { isNodeName } from '../identity/name.js'
import { FILE_SUFFIX } from './format.js'

/** The folder at the root of a stick (or any shared folder) that holds bundles. */
export const STICK_FOLDER = 'outpost'

/** Where a bundle for `destination` goes on a stick mounted at `stickRoot`. */
export function stickFolder(stickRoot: string, destination: string): string {
  if (!isNodeName(destination)) throw new Error(`cannot make a stick folder for ${JSON.stringify(destination)}: not a node name`)
  return join(stickRoot, STICK_FOLDER, destination)
}

/**
 * Whether a file name in a stick folder is a finished bundle. Names that
 * start with "." or end in ".tmp" are writes still in progress (or cut short
 * by a pulled stick) and never count.
 */
export function isFinishedBundleName(name: string): boolean {
  return !name.startsWith('.') && !name.endsWith('.tmp') && name.endsWith(FILE_SUFFIX)
}
