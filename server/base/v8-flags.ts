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
// at idle outpost 91 → 68 MB RSS and Haraka 74 → 60 MB. The CPU that
// outpost + Haraka used over a 200-message burst and 20 s of 30 phones was
// 8.2–10.9 s in four runs against 8.6 s with V8's compilers: within the
// noise of a shared 2-core machine; not yet measured on a Pi.
export const NODE_FLAGS = ['--max-semi-space-size=2', '--no-opt', '--no-sparkplug', '--max-lazy', '--optimize-for-size'] as const

/**
 * The flags of the Haraka child: NODE_FLAGS with V8's baseline compiler
 * (Sparkplug) left on. Unlike `outpost start`, Haraka runs JavaScript for
 * every line a client sends (its SMTP parser, hooks and our plugins), and
 * in the interpreter alone that was most of its CPU per message. Sparkplug
 * compiles bytecode to machine code without optimizing (quickly, and its
 * code is small): measured in the 20-sender bench, Haraka's CPU per
 * accepted message fell by about 0.45 ms for 1.5 MB more RSS at idle and
 * 2-5 MB after the run. Turning the optimizing compiler on too saved another
 * 0.5 ms but cost 10 MB at idle and 15-25 MB after the run
 * (docs/performance.md, "Accepting mail").
 */
export const HARAKA_NODE_FLAGS = NODE_FLAGS.filter((f) => f !== '--no-sparkplug')

/**
 * The environment `outpost export` and `outpost usb offload` run in, beside
 * NODE_FLAGS (bin/outpost.mjs starts them again with both when either is
 * missing). One thread in libuv's pool instead of four: brotli compresses a
 * bundle on a pool thread, and glibc gives each thread that allocates its
 * own malloc arena, which keeps its largest compressor's worth of memory
 * after it is freed. With four threads an export of 100,000 messages peaked
 * 43 MB above idle, with one 28 MB (bench/scale.ts, docs/performance.md).
 * These commands compress one bundle at a time and do their file I/O
 * synchronously, so nothing waits on the one thread. The pool's size is read
 * once when Node starts, so it cannot be changed from inside the process:
 * `outpost start`, whose exports run in its own process, keeps four.
 */
export const EXPORT_ENV = { UV_THREADPOOL_SIZE: '1' } as const
