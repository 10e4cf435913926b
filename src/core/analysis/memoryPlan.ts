// RAM the model needs on the board while it runs, as CircuitPython's heap sees it.
// The GC hands out 16-byte blocks (MICROPY_BYTES_PER_GC_BLOCK on 32-bit ports), so each
// allocation is rounded up. CircuitPython builds use MICROPY_OBJ_REPR_C, where floats are
// stored inside the object word: the returned list holds no boxed floats.
import { type LayerRecord, shapeElements } from '../blob/blobFormat.js';

export const GC_BLOCK_BYTES = 16;
/**
 * Default heap budget: the low end of the 150–190 KB a Pico leaves for user code under
 * CircuitPython 9 (docs/circuitpython-board.md). Override with the measured gc.mem_free().
 */
export const DEFAULT_HEAP_BUDGET_BYTES = 150 * 1024;

export interface MemoryPlan {
  blobBytes: number;
  /** Both float32 scratch buffers, each max(out_c*out_h*out_w) elements. */
  scratchBytes: number;
  scratchElements: number;
  /** The caller's array('f') for the input. */
  inputArrayBytes: number;
  /** The list perform_inference returns. */
  outputListBytes: number;
  totalBytes: number;
  heapBudgetBytes: number;
  fits: boolean;
  /** Budget minus total; negative when it does not fit. */
  marginBytes: number;
  /** The blob is one allocation: it needs a contiguous free block that large. */
  largestBlockBytes: number;
}

const blocks = (bytes: number) => Math.ceil(bytes / GC_BLOCK_BYTES) * GC_BLOCK_BYTES;

export function memoryPlan(records: readonly LayerRecord[], blobBytes: number, heapBudgetBytes = DEFAULT_HEAP_BUDGET_BYTES): MemoryPlan {
  const scratchElements = records.reduce((max, r) => Math.max(max, shapeElements(r.out)), 0);
  const inputElements = shapeElements(records[0].in);
  const outputElements = shapeElements(records[records.length - 1].out);
  const blob = blocks(blobBytes);
  const scratch = 2 * blocks(scratchElements * 4);
  const inputArray = GC_BLOCK_BYTES + blocks(inputElements * 4);
  const outputList = GC_BLOCK_BYTES + blocks(outputElements * 4);
  const total = blob + scratch + inputArray + outputList;
  return {
    blobBytes: blob,
    scratchBytes: scratch,
    scratchElements,
    inputArrayBytes: inputArray,
    outputListBytes: outputList,
    totalBytes: total,
    heapBudgetBytes,
    fits: total <= heapBudgetBytes,
    marginBytes: heapBudgetBytes - total,
    largestBlockBytes: Math.max(blob, blocks(scratchElements * 4)),
  };
}
