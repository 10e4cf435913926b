// Error numbers: MicroPython's WebAssembly build reports Emscripten's (WASI numbering, e.g.
// ENOENT 44); the board's CircuitPython reports MicroPython's own (Linux numbering, ENOENT 2).
// The one table both the Python shims and the virtual cnn_helper translate with.

/** WASI errno → the board's errno. */
export const WASI_TO_BOARD_ERRNO: Readonly<Record<number, number>> = {
  2: 13, // EACCES
  6: 11, // EAGAIN
  8: 9, // EBADF
  10: 16, // EBUSY
  20: 17, // EEXIST
  22: 27, // EFBIG
  28: 22, // EINVAL
  29: 5, // EIO
  31: 21, // EISDIR
  32: 40, // ELOOP
  33: 24, // EMFILE
  37: 36, // ENAMETOOLONG
  43: 19, // ENODEV
  44: 2, // ENOENT
  51: 28, // ENOSPC
  52: 38, // ENOSYS
  54: 20, // ENOTDIR
  55: 39, // ENOTEMPTY
  58: 95, // EOPNOTSUPP
  59: 25, // ENOTTY
  60: 6, // ENXIO
  63: 1, // EPERM
  69: 30, // EROFS
  70: 29, // ESPIPE
  74: 18, // EXDEV
};

/** The board's errno for a WASI one (EIO when it has none). */
export function boardErrno(wasi: number | undefined): number {
  return wasi === undefined ? 5 : WASI_TO_BOARD_ERRNO[wasi] ?? 5;
}

/** The table as a Python dict literal, for the shims. */
export function errnoTableForPython(): string {
  return `{${Object.entries(WASI_TO_BOARD_ERRNO).map(([wasi, board]) => `${wasi}: ${board}`).join(', ')}}`;
}
