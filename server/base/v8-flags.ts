// The V8 flags every long-running Node process of the node starts with:
// `outpost start` (systemd/outpost.service, quickstart.sh, the tests and the
// benchmark) and the Haraka it supervises.
//
// A 2 MiB young generation instead of V8's 16 MiB default: a group's chat is
// a light load, and a Pi has little memory. Measured at idle: about 20 MB
// less resident for `outpost start` and 15 MB for Haraka.
export const NODE_FLAGS = ['--max-semi-space-size=2'] as const
