// Haraka's return codes. The package ships no types; only what our plugins use is declared.
declare module 'haraka-constants' {
  const constants: {
    readonly cont: number
    readonly stop: number
    readonly deny: number
    readonly denysoft: number
    readonly denydisconnect: number
    readonly disconnect: number
    readonly ok: number
    readonly denysoftdisconnect: number
    translate(code: number): string
  }
  export default constants
}
