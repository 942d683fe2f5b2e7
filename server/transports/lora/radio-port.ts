// The seam between the link and the radio: a byte stream to a KISS TNC.
// The real radio is a serial device (/dev/ttyACM0, /dev/ttyUSB0) opened with
// the serialport library; the tests open a pseudo-terminal the same way,
// with the radio simulator on its other end, so the one driver runs in both.
// serialport (and its native binding) is loaded only when a radio is opened:
// every CLI command that merely lists transports would pay for it otherwise.

export interface RadioPort {
  /** Writes bytes to the TNC; resolves once they are handed to the OS. */
  write(bytes: Buffer): Promise<void>
  /** Every chunk read from the TNC, as it arrives. */
  onData(listener: (chunk: Buffer) => void): void
  close(): Promise<void>
  /** Called once when the port closes by itself (the radio was unplugged); not all ports can tell. */
  onClose?(listener: (err?: Error) => void): void
}

/** Opens a serial device (or a pseudo-terminal) raw at `baud`. */
export async function openSerialRadio(path: string, baud: number): Promise<RadioPort> {
  const { SerialPort } = await import('serialport')
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate: baud, autoOpen: false })
    // Errors without a callback (none are expected: every write has one) are
    // logged by the owner through onClose; an 'error' event nobody listens to
    // would end the process.
    port.on('error', () => undefined)
    port.open((err) => {
      if (err) return reject(new Error(`cannot open the radio at ${path}: ${err.message}; check that the radio is plugged in and that the node's user may open it (the dialout group)`))
      resolve({
        write: (bytes) =>
          new Promise((res, rej) => {
            port.write(bytes, (e) => (e ? rej(new Error(`writing to the radio at ${path}: ${e.message}`)) : port.drain((d) => (d ? rej(d) : res()))))
          }),
        onData: (listener) => void port.on('data', listener),
        // An unplugged radio closes the port with a "disconnected" error.
        onClose: (listener) => void port.on('close', (err?: Error | null) => listener(err ?? undefined)),
        close: () => new Promise((res) => (port.isOpen ? port.close(() => res()) : res())),
      })
    })
  })
}
