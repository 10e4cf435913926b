// Reads an input file for a model (raw little-endian float32, as array('f') on the board). A
// file of the wrong size is the firmware's ValueError("wrong input size"), naming the file — with
// several inputs the user must know which one — and it is refused before it is read, so a huge
// file is never loaded to find that out.
import { statSync } from 'node:fs';
import { FirmwareError } from '../errors.js';
import { readFileChecked } from '../files/readFileChecked.js';
import { quoted } from '../text/untrustedText.js';

export function wrongInputSize(path: string, inputElements: number, bytes: number): FirmwareError {
  return new FirmwareError('ValueError', 'wrong input size',
    `The model expects ${inputElements} float32 values (${inputElements * 4} bytes), got ${bytes} bytes in ${quoted(path, 500)}`);
}

/** The file's bytes, exactly inputElements × 4 of them (a copy at offset 0, so it can be viewed as float32). */
export function readModelInput(path: string, inputElements: number): Uint8Array {
  const expected = inputElements * 4;
  let size: number | undefined;
  try {
    const stats = statSync(path);
    if (stats.isFile()) size = stats.size;
  } catch {
    // readFileChecked below reports the problem with the path.
  }
  if (size !== undefined && size !== expected) throw wrongInputSize(path, inputElements, size);
  const bytes = readFileChecked(path, { maxBytes: expected, what: 'model input' });
  if (bytes.length !== expected) throw wrongInputSize(path, inputElements, bytes.length);
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}
