// cnn_helper on the virtual Pico: the firmware's C module, run by the host engine (same results,
// same errors), with the Pico's heap, the RP2040's time charged to the virtual clock, and a bound
// on the work one inference may take (a model that would run for hours on a board is refused at
// load_model instead of occupying this computer).
import { estimateLatency } from '../core/analysis/latencyModel.js';
import { assertWithinComputeBudget, ComputeBudgetError } from '../core/engine/computeBudget.js';
import { loadModel, performInference, type LoadedModel } from '../core/engine/firmwareEngine.js';
import { CpmlError, FirmwareError, formatUserError } from '../core/errors.js';
import { boardErrno } from './boardErrno.js';
import type { VirtualClock } from './virtualClock.js';


/** An exception for the Python side to raise: its type and message. */
export class PythonRaise extends Error {
  constructor(readonly pythonType: string, message: string) {
    super(message);
  }
}

function toRaise(error: unknown): PythonRaise {
  if (error instanceof FirmwareError) return new PythonRaise(error.pythonType, error.message);
  if (error instanceof ComputeBudgetError) return new PythonRaise('RuntimeError', `(virtual Pico) ${formatUserError(error)}`);
  if (error instanceof CpmlError) {
    return new PythonRaise('RuntimeError', `(virtual Pico) the firmware cannot run this model safely, a real board may crash or compute garbage: ${formatUserError(error)}`);
  }
  return new PythonRaise('RuntimeError', `(virtual Pico) internal error: ${error instanceof Error ? error.message : String(error)}`);
}

export interface CnnHelperOptions {
  heapBytes: number;
  maxMacs: number;
  /** Reads a file of the VM's own file system (the drive's copy). */
  readFile(path: string): Uint8Array;
  clock: VirtualClock;
}

export class VirtualCnnHelper {
  private model: { loaded: LoadedModel; inferMs: number } | undefined;
  /** Heap the model holds: the blob and two scratch buffers, as the firmware allocates them. */
  modelBytes = 0;

  constructor(private readonly options: CnnHelperOptions) {}

  get outputElements(): number {
    return this.model?.loaded.outputElements ?? 0;
  }

  load(path: string): void {
    // Reloading frees the old model first, as the firmware does.
    this.unload();
    let bytes: Uint8Array;
    try {
      bytes = this.options.readFile(path);
    } catch (error) {
      throw new PythonRaise('OSError', String(boardErrno((error as { errno?: number }).errno)));
    }
    try {
      const loaded = loadModel(bytes, { heapBytes: this.options.heapBytes });
      checkWork(loaded, this.options.maxMacs);
      const estimate = estimateLatency(loaded.blob.records, bytes.length);
      this.model = { loaded, inferMs: estimate.inferMs };
      this.modelBytes = bytes.length + 2 * loaded.scratchElements * 4;
      this.options.clock.charge(estimate.loadMs);
    } catch (error) {
      throw toRaise(error);
    }
  }

  /** `input`: the caller's buffer, as bytes. */
  infer(input: Uint8Array): Float32Array {
    if (!this.model) throw new PythonRaise('RuntimeError', 'model not loaded');
    try {
      const out = performInference(this.model.loaded, input);
      this.options.clock.charge(this.model.inferMs);
      return out;
    } catch (error) {
      throw toRaise(error);
    }
  }

  unload(): void {
    this.model = undefined;
    this.modelBytes = 0;
  }
}

/** A model that would take minutes or hours per inference on the board is not run here. */
function checkWork(loaded: LoadedModel, maxMacs: number): void {
  assertWithinComputeBudget(loaded.blob.records, maxMacs,
    'The virtual Pico does not run models this slow (a real board would take that long). Make the model smaller, or start the virtual Pico with a higher limit (cpml sim --max-macs N)');
}
