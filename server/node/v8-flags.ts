// The V8 flags every long-running Node process of the node starts with:
// `outpost start` (systemd/outpost.service, quickstart.sh, the tests and the
// benchmark) and the Haraka it supervises.
//
// A 2 MiB young generation instead of V8's 16 MiB default: a group's chat is
// a light load, and a Pi has little memory. Measured at idle: about 20 MB
// less resident for `outpost start` and 15 MB for Haraka.
//
// The other four trade JavaScript speed for memory, together what V8's
// --lite-mode does but without its --jitless, which removes WebAssembly and
// so the Argon2 password check (hash-wasm): with --lite-mode every AUTH
// failed. --no-opt: no optimizing compiler (WebAssembly keeps its own);
// --no-sparkplug: no baseline machine code either; --max-lazy: functions are
// compiled when first called; --optimize-for-size: V8's smaller heap
// layouts. Both processes spend their time in TLS, Argon2 and I/O rather
// than hot JavaScript. Measured on the bench machine (bench/phones.ts):
// at idle outpost 91 → 72 MB RSS and Haraka 74 → 64 MB; with 30 phones and
// a burst, outpost + Haraka used 9.6 s of CPU against 8.6 s.
export const NODE_FLAGS = ['--max-semi-space-size=2', '--no-opt', '--no-sparkplug', '--max-lazy', '--optimize-for-size'] as const
