// Named places where a durability test may kill the process as kill -9 or a
// power cut would: right after one write step and before the next. Off
// unless OUTPOST_CRASH_AT is set, and then it costs one comparison.
//
//   OUTPOST_CRASH_AT=NAME:N   die at the Nth time the point NAME is reached
//   OUTPOST_CRASH_AT=*:N      die at the Nth crash point of any name
//   OUTPOST_CRASH_AT=NAME:N:stop
//                             freeze there instead (SIGSTOP), so a test can
//                             cut the power of a whole machine at exactly
//                             that step (the appliance test kills qemu)
//
// With `*`, a test can walk N = 1, 2, 3 … until the command no longer dies,
// and so crash once after every write step of a run, in order, whatever the
// machine's speed (a timer would hit only the steps a fast or slow machine
// happens to be in).
const spec = /^([^:]+):(\d+)(:stop)?$/.exec(process.env.OUTPOST_CRASH_AT ?? '')
const wanted = spec?.[1]
const at = spec ? Number(spec[2]) : 0
const freeze = spec?.[3] !== undefined
let hits = 0

export function crashPoint(name: string): void {
  if (wanted === undefined || (wanted !== '*' && wanted !== name)) return
  if (++hits === at) {
    // Said on stderr so a test can tell which step it killed.
    process.stderr.write(`crash point ${name} (#${at}): ${freeze ? 'freezing' : 'killing'} the process\n`)
    process.kill(process.pid, freeze ? 'SIGSTOP' : 'SIGKILL')
  }
}
