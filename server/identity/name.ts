// A node's name: the label its card, its bundles and its folders on a stick
// carry. Node names become folder and file names on FAT sticks, and `--`
// separates the parts of a file name, so the alphabet is small.
const NODE_NAME = /^[a-z0-9]+(?:[.-][a-z0-9]+)*$/
export const MAX_NODE_NAME = 63

export function isNodeName(s: unknown): s is string {
  return typeof s === 'string' && s.length <= MAX_NODE_NAME && NODE_NAME.test(s)
}
