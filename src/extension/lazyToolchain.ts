// The model toolchain is loaded on first use: in the built extension it is a bundle of its own
// (dist/toolchain.js, see tools/build.mjs), so activation does not parse the ONNX code.
import type * as Toolchain from './toolchain.js';

let loaded: typeof Toolchain | undefined;

export function toolchain(): typeof Toolchain {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('./toolchain.js') as typeof Toolchain;
  return loaded;
}
