// The first wall of the virtual Pico's sandbox, in the VM process: the MicroPython WebAssembly
// build can reach JavaScript (its `js` module is globalThis; `jsffi.to_js` makes JS objects;
// every JS object leads to Function and so to `process`). All of that goes through a fixed set
// of imports the wasm module calls (lookup_attr, call0…, js_reflect_construct…). They are
// replaced here before the module is instantiated: an attribute of a JS object is never found,
// a call or construction returns None, nothing is stored. Python keeps only byte-level channels:
// the console and the virtual board's device file (hostDevice.ts). The Python side also refuses
// `import js` / `import jsffi` with an ImportError, as a board would (pythonShims.ts); that is
// for the message: even past it, the modules can do nothing.
//
// The wasm memory is capped too (emscripten_resize_heap): a program cannot take this computer's
// memory beyond MAX_WASM_MEMORY_BYTES; MicroPython's own heap is fixed and raises MemoryError.

/** MicroPython's heap (4 MB) plus its stack and Emscripten's allocations fit well inside. */
export const MAX_WASM_MEMORY_BYTES = 64 * 1024 * 1024;

/** proxy_c.c's kind for a JS null: the C side turns it into None. */
const PROXY_KIND_JS_NULL = 1;

/** Imports that touch JS objects, each with the out-pointer arguments it writes results to. */
const OBJECT_IMPORTS: Record<string, { out: number[]; returns?: number }> = {
  lookup_attr: { out: [], returns: 0 }, // 0: attribute not found
  has_attr: { out: [], returns: 0 },
  store_attr: { out: [] },
  call0: { out: [1] },
  call1: { out: [3] },
  call2: { out: [4] },
  calln: { out: [4] },
  call0_kwarg: { out: [5] },
  calln_kwarg: { out: [7] },
  js_reflect_construct: { out: [3] },
  js_get_iter: { out: [1] },
  js_iter_next: { out: [], returns: 0 }, // 0: done
  js_subscr_load: { out: [2] },
  js_subscr_store: { out: [] },
  js_get_error_info: { out: [1, 2] },
  js_check_existing: { out: [], returns: -1 },
  js_then_resolve: { out: [] },
  js_then_reject: { out: [] },
  js_then_continue: { out: [4] },
  create_promise: { out: [0, 1] },
  // jsffi.create_proxy / jsffi.to_js: Python object → JS object → JsProxy. Now → None.
  proxy_convert_mp_to_js_then_js_to_mp_obj_jsside: { out: [0] },
  proxy_convert_mp_to_js_then_js_to_js_then_js_to_mp_obj_jsside: { out: [0] },
};

type WasmFunction = (...args: number[]) => number | undefined;
type Imports = Record<string, Record<string, unknown>>;

/** The parts of the WebAssembly API used here (TypeScript's node library does not declare them). */
interface WasmMemory {
  buffer: ArrayBuffer;
}
interface WasmApi {
  instantiate(source: unknown, imports?: Imports): Promise<{ instance: { exports: Record<string, unknown> } } | { exports: Record<string, unknown> }>;
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let memory: WasmMemory | undefined;

function deny(spec: { out: number[]; returns?: number }): WasmFunction {
  return (...args: number[]) => {
    if (memory) {
      const cells = new Int32Array(memory.buffer);
      for (const index of spec.out) cells[(args[index] >>> 0) >> 2] = PROXY_KIND_JS_NULL;
    }
    return spec.returns;
  };
}

/** The import object with every bridge to JS objects replaced and memory growth capped. */
export function wallImports(imports: Imports): Imports {
  const env = { ...(imports.env ?? {}) };
  const expected = Object.keys(OBJECT_IMPORTS);
  for (const name of expected) {
    if (name in env) env[name] = deny(OBJECT_IMPORTS[name]);
  }
  // Any other import that takes or returns JS objects would be a new bridge in a newer build:
  // refuse to run rather than leave it open.
  const known = new Set([...expected, 'proxy_js_free_obj', 'js_get_proxy_js_ref_info', 'mp_js_random_u32', 'mp_js_ticks_ms', 'mp_js_time_ms',
    'emscripten_resize_heap', '_abort_js', '_emscripten_throw_longjmp']);
  const unknown = Object.keys(env).filter((name) => !known.has(name) && !name.startsWith('invoke_') && !name.startsWith('__syscall_') && !name.startsWith('fd_'));
  if (unknown.length) throw new Error(`this MicroPython build has imports the sandbox does not know: ${unknown.join(', ')}`);
  const resize = env.emscripten_resize_heap as WasmFunction;
  env.emscripten_resize_heap = (requested: number) => ((requested >>> 0) > MAX_WASM_MEMORY_BYTES ? 0 : resize(requested));
  return { ...imports, env };
}

/**
 * Loads MicroPython with its imports walled (WebAssembly.instantiate is wrapped for the load and
 * restored after), then empties what its `js` module points at (globalThis) for good measure.
 */
export async function instantiateWalled<T>(load: () => Promise<T>): Promise<T> {
  const original = wasm.instantiate;
  wasm.instantiate = async (source, imports) => {
    const result = await original.call(wasm, source, imports && wallImports(imports));
    const exports = 'instance' in result ? result.instance.exports : result.exports;
    memory = Object.values(exports).find((e): e is WasmMemory => e instanceof wasm.Memory);
    return result;
  };
  try {
    const loaded = await load();
    if (!memory) throw new Error('MicroPython was not loaded through the walled instantiate');
    const refs = (globalThis as { proxy_js_ref?: unknown[] }).proxy_js_ref;
    if (Array.isArray(refs)) refs[0] = Object.freeze(Object.create(null));
    return loaded;
  } finally {
    wasm.instantiate = original;
  }
}
