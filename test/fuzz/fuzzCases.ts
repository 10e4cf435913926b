// The fuzz corpus, the deterministic case generator (case = f(seed, kind, index)) and the
// checks run on one case, including the differential oracle (blob vs. reference evaluator). Shared by the worker that runs the cases and by the test, which
// regenerates an offending input from its index alone (e.g. after a hang killed the worker).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { convertOnnxBytes, type Conversion } from '../../src/core/convert.js';
import { validateBlob, type BlobValidation } from '../../src/core/blob/validateBlob.js';
import { assertWithinComputeBudget } from '../../src/core/engine/computeBudget.js';
import { evaluateOnnx } from '../../src/core/engine/evaluateOnnx.js';
import { loadModel, performInference, type LoadedModel } from '../../src/core/engine/firmwareEngine.js';
import { seededRandom } from '../../src/core/engine/seededRandom.js';
import { CpmlError, FirmwareError } from '../../src/core/errors.js';
import { elementCount, type OnnxGraph } from '../../src/core/onnx/onnxGraph.js';
import { generateModel, longReluChain } from './generateModel.js';
import { dropoutChain } from './longChains.js';
import {
  blobBoundaries, caseSeed, mutateBlobStructure, mutateBytes, mutateProtobuf, parseMessage, Rng, truncationLength, type PbField,
} from './mutate.js';

export type FuzzKind = 'onnx' | 'blob';

export const DEFAULT_SEED = 0x5eed_c0de;
/** Random cases per kind (the prefix sweeps come on top). */
export const DEFAULT_ITERATIONS = 10_000;
/** A single call slower than this is reported as hang-like (CPML_FUZZ_SLOW_MS overrides)... */
export const SLOW_CALL_MS = slowMsFromEnv();
/** ...plus this much per megabyte of input (a few cases are multi-megabyte on purpose). */
export const SLOW_CALL_MS_PER_MB = 1_000;

export function slowLimitMs(inputBytes: number): number {
  return SLOW_CALL_MS + SLOW_CALL_MS_PER_MB * (inputBytes / 1e6);
}
/** Inputs the inference would need more memory than this for are not run. */
export const MAX_INPUT_ELEMENTS = 16 * 1024 * 1024;
/** Larger fixtures are left out: mutations would mostly land in their weights, and they are slow. */
const MAX_CORPUS_FILE_BYTES = 20_000;

const FIXTURES = join('test', 'fixtures', 'models');
const EXAMPLE = join('examples', 'mnist');

export function seedFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CPML_FUZZ_SEED?.trim();
  if (!raw) return DEFAULT_SEED;
  const value = /^0x[0-9a-f]+$/i.test(raw) ? parseInt(raw, 16) : Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`CPML_FUZZ_SEED must be a non-negative integer (decimal or 0x hex), got '${raw}'`);
  return value >>> 0;
}

function slowMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.CPML_FUZZ_SLOW_MS?.trim() || 2_000);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`CPML_FUZZ_SLOW_MS must be a positive number of milliseconds, got '${env.CPML_FUZZ_SLOW_MS}'`);
  return value;
}

export function iterationsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CPML_FUZZ_ITERATIONS?.trim();
  if (!raw) return DEFAULT_ITERATIONS;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`CPML_FUZZ_ITERATIONS must be a positive integer, got '${raw}'`);
  return value;
}

function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export interface CorpusEntry {
  name: string;
  bytes: Uint8Array;
}

export interface Corpus {
  onnx: CorpusEntry[];
  /** Parsed protobuf trees of the ONNX entries (donors for grafting). */
  onnxTrees: (PbField[] | undefined)[];
  blobs: CorpusEntry[];
  /** Inputs swept at every prefix length, after the random cases. */
  onnxSweep: CorpusEntry;
  blobSweep: CorpusEntry;
}

/** Same files in the same order on every call, so case indices mean the same everywhere. */
export function loadCorpus(): Corpus {
  const onnxFiles = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.onnx') && statSync(join(FIXTURES, f)).size <= MAX_CORPUS_FILE_BYTES)
    .sort()
    .map((f) => join(FIXTURES, f));
  onnxFiles.push(join(EXAMPLE, 'model.onnx'));
  const onnx = onnxFiles.map((path) => ({ name: path, bytes: readBytes(path) }));

  const exampleBlob = { name: join(EXAMPLE, 'model.bin'), bytes: readBytes(join(EXAMPLE, 'model.bin')) };
  const blobs: CorpusEntry[] = [exampleBlob];
  const seen = new Set([Buffer.from(exampleBlob.bytes).toString('base64')]);
  for (const entry of onnx) {
    try {
      const { blob } = convertOnnxBytes(entry.bytes, entry.name);
      const key = Buffer.from(blob).toString('base64');
      if (!seen.has(key)) {
        seen.add(key);
        blobs.push({ name: `${entry.name} (converted)`, bytes: blob });
      }
    } catch {
      // refuse_* fixtures and external data: no blob, still good ONNX seeds.
    }
  }
  return {
    onnx,
    onnxTrees: onnx.map((e) => parseMessage(e.bytes)),
    blobs,
    onnxSweep: onnx[onnx.length - 1],
    blobSweep: exampleBlob,
  };
}

/** Layers of the stress cases (100k+ layers once overflowed the stack in several places). */
export const STRESS_LAYERS = 200_000;
/** Nodes of the Dropout-with-mask stress case (one scan of all nodes per node made 20k take 302 s). */
export const STRESS_DROPOUT_NODES = 100_000;
/** Stress cases at the end of a run: ONNX has a Relu chain and a Dropout chain, blobs one ReLU blob. */
const STRESS_CASES: Record<FuzzKind, number> = { onnx: 2, blob: 1 };

function sweepLength(corpus: Corpus, kind: FuzzKind): number {
  return (kind === 'onnx' ? corpus.onnxSweep : corpus.blobSweep).bytes.length + 1;
}

/** Random cases, then every truncation of the sweep input (0 … its full length), then the stress cases. */
export function caseCount(corpus: Corpus, kind: FuzzKind, iterations: number): number {
  return iterations + sweepLength(corpus, kind) + STRESS_CASES[kind];
}

export interface FuzzCase {
  bytes: Uint8Array;
  /** How the case was made, for the report. */
  origin: string;
  /** A variant of a corpus file: the differential oracle runs on one in ORACLE_SAMPLE of these (see runCase). */
  fromCorpus?: boolean;
}

/** Case `index` of a run (see caseCount). */
export function makeCase(corpus: Corpus, kind: FuzzKind, seed: number, iterations: number, index: number): FuzzCase {
  const sweep = kind === 'onnx' ? corpus.onnxSweep : corpus.blobSweep;
  const stress = index - (iterations + sweepLength(corpus, kind));
  if (stress >= 0) {
    if (kind === 'onnx' && stress === 1) {
      return {
        bytes: dropoutChain(STRESS_DROPOUT_NODES, { conv: true, reluEvery: 2 }),
        origin: `stress: Conv, then ${STRESS_DROPOUT_NODES} nodes alternating Dropout (each with a mask output) and Relu`,
      };
    }
    if (kind === 'onnx') return { bytes: longReluChain(STRESS_LAYERS), origin: `stress: a chain of ${STRESS_LAYERS} Relu nodes` };
    return { bytes: reluBlob(STRESS_LAYERS), origin: `stress: a blob of ${STRESS_LAYERS} ReLU layers` };
  }
  if (index >= iterations) {
    const length = index - iterations;
    return { bytes: sweep.bytes.slice(0, length), origin: `${sweep.name} truncated to ${length} bytes`, fromCorpus: true };
  }
  const rng = new Rng(caseSeed(seed, kind === 'onnx' ? 1 : 2, index));
  return kind === 'onnx' ? makeOnnxCase(corpus, rng) : makeBlobCase(corpus, rng);
}

/** n ReLU records on a 1×1×4 tensor, no weights. */
function reluBlob(n: number): Uint8Array {
  const bytes = new Uint8Array(8 + 64 * n);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x434e4e01, true);
  view.setUint32(4, n, true);
  for (let i = 0; i < n; i++) {
    const at = 8 + 22 * i;
    view.setUint8(at, 3);
    view.setUint8(at + 1, 4);
    view.setUint8(at + 2, 4);
    view.setUint8(at + 4, 1);
    for (const field of [6, 8, 10, 12]) view.setUint16(at + field, 1, true);
  }
  return bytes;
}

function makeOnnxCase(corpus: Corpus, rng: Rng): FuzzCase {
  const i = rng.int(corpus.onnx.length);
  const base = corpus.onnx[i];
  const others = corpus.onnx.map((e) => e.bytes);
  const donors = corpus.onnxTrees.filter((t): t is PbField[] => Boolean(t));
  const roll = rng.int(100);
  // Generated models are the ones that reach the lowering code and, converted, the oracle.
  if (roll < 15) {
    const generated = generateModel(rng);
    if (rng.chance(0.7)) return { bytes: generated.bytes, origin: generated.description };
    const bytes = mutateProtobuf(rng, generated.bytes, []) ?? generated.bytes;
    return { bytes, origin: `${generated.description}, then protobuf mutations` };
  }
  if (roll < 55) {
    let bytes = mutateProtobuf(rng, base.bytes, donors, corpus.onnxTrees[i]) ?? mutateBytes(rng, base.bytes, others);
    let origin = `${base.name}: protobuf mutations`;
    if (rng.chance(0.2)) {
      bytes = mutateBytes(rng, bytes, others, 1);
      origin += ' + byte mutation';
    }
    return { bytes, origin, fromCorpus: true };
  }
  if (roll < 88) return { bytes: mutateBytes(rng, base.bytes, others), origin: `${base.name}: byte mutations`, fromCorpus: true };
  return { bytes: base.bytes.slice(0, truncationLength(rng, base.bytes.length)), origin: `${base.name}: truncated`, fromCorpus: true };
}

function makeBlobCase(corpus: Corpus, rng: Rng): FuzzCase {
  const base = rng.pick(corpus.blobs);
  const others = corpus.blobs.map((e) => e.bytes);
  const roll = rng.int(100);
  if (roll < 55) {
    let bytes = mutateBlobStructure(rng, base.bytes) ?? mutateBytes(rng, base.bytes, others);
    let origin = `${base.name}: blob structure mutations`;
    if (rng.chance(0.2)) {
      bytes = mutateBytes(rng, bytes, others, 1);
      origin += ' + byte mutation';
    }
    return { bytes, origin };
  }
  if (roll < 88) return { bytes: mutateBytes(rng, base.bytes, others), origin: `${base.name}: byte mutations` };
  return { bytes: base.bytes.slice(0, truncationLength(rng, base.bytes.length, blobBoundaries(base.bytes))), origin: `${base.name}: truncated` };
}

// ---------------------------------------------------------------------------------------------
// Running one case

export const PHASES = ['convert', 'validateBlob', 'loadModel', 'performInference', 'evaluateOnnx'] as const;
export type Phase = (typeof PHASES)[number];

let phaseListener: ((phase: Phase) => void) | undefined;

/** Called when a case enters a phase (the worker publishes it for the hang watchdog). */
export function onPhase(listener: ((phase: Phase) => void) | undefined): void {
  phaseListener = listener;
}

export interface CaseFailure {
  phase: Phase;
  /**
   * exception: not a CpmlError; slow: a call over SLOW_CALL_MS; invariant: a broken promise of the
   * API; hang / out-of-memory / worker-crash: the worker running the case had to be given up.
   */
  reason: 'exception' | 'slow' | 'invariant' | 'hang' | 'out-of-memory' | 'worker-crash';
  name: string;
  message: string;
  stack: string;
  ms: number;
}

export interface CaseResult {
  /** What happened, for the summary (e.g. 'OnnxReadError', 'converted+ran'). */
  outcome: string;
  failure?: CaseFailure;
}

class Abort extends Error {
  constructor(readonly failure: CaseFailure) {
    super(failure.message);
  }
}

let slowLimit = SLOW_CALL_MS;

/** Runs `fn`; a non-CpmlError or a slow call becomes an Abort, a CpmlError is rethrown as is. */
function guarded<T>(phase: Phase, fn: () => T): T {
  phaseListener?.(phase);
  const start = performance.now();
  let value: T;
  try {
    value = fn();
  } catch (error) {
    const ms = performance.now() - start;
    if (error instanceof CpmlError) {
      if (ms > slowLimit) throw new Abort(slow(phase, ms));
      throw error;
    }
    const e = error instanceof Error ? error : new Error(String(error));
    throw new Abort({ phase, reason: 'exception', name: e.name, message: e.message, stack: e.stack ?? String(error), ms });
  }
  const ms = performance.now() - start;
  if (ms > slowLimit) throw new Abort(slow(phase, ms));
  return value;
}

function slow(phase: Phase, ms: number): CaseFailure {
  return { phase, reason: 'slow', name: 'SlowCall', message: `${phase} took ${ms.toFixed(0)} ms (limit ${slowLimit.toFixed(0)} ms)`, stack: '', ms };
}

function invariant(phase: Phase, message: string): Abort {
  return new Abort({ phase, reason: 'invariant', name: 'InvariantViolation', message, stack: new Error(message).stack ?? '', ms: 0 });
}

interface BlobRun {
  outcome: string;
  /** When the blob ran: the model, its input and output. */
  ran?: { model: LoadedModel; input: Float32Array; output: Float32Array };
}

/**
 * validateBlob; when it reports no errors, loadModel + performInference on `inputFor(n)` (default:
 * n zeros; the converter's blobs get the oracle's input, so one inference serves both checks).
 */
function checkBlob(bytes: Uint8Array, fromConverter: boolean, inputFor: (n: number) => Float32Array = (n) => new Float32Array(n)): BlobRun {
  let validation: BlobValidation;
  try {
    validation = guarded('validateBlob', () => validateBlob(bytes));
  } catch (error) {
    if (error instanceof Abort) throw error;
    if (fromConverter) throw invariant('validateBlob', `validateBlob threw on a blob convertOnnxBytes returned: ${(error as Error).message}`);
    return { outcome: 'blob undecodable' };
  }
  if (validation.errors.length) {
    if (fromConverter) {
      throw invariant('validateBlob', `validateBlob reports errors on a blob convertOnnxBytes returned: ${validation.errors.map((e) => e.message).join('; ')}`);
    }
    return { outcome: 'blob invalid' };
  }
  let model: LoadedModel;
  try {
    model = guarded('loadModel', () => loadModel(bytes));
  } catch (error) {
    if (error instanceof Abort) throw error;
    if (!(error instanceof FirmwareError)) throw invariant('loadModel', `loadModel threw ${(error as Error).name} (not a FirmwareError) on a blob validateBlob accepted: ${(error as Error).message}`);
    return { outcome: `load ${error.pythonType}` };
  }
  if (model.inputElements > MAX_INPUT_ELEMENTS) return { outcome: 'input too large to try' };
  const input = inputFor(model.inputElements);
  try {
    const output = guarded('performInference', () => performInference(model, input));
    if (output.length !== model.outputElements) throw invariant('performInference', `returned ${output.length} values, the model says ${model.outputElements}`);
    return { outcome: 'ran', ran: { model, input, output } };
  } catch (error) {
    if (error instanceof Abort) throw error;
    if (!(error instanceof FirmwareError)) throw invariant('performInference', `threw ${(error as Error).name} (not a FirmwareError): ${(error as Error).message}`);
    return { outcome: `inference ${error.pythonType}` };
  }
}

// ---------------------------------------------------------------------------------------------
// The differential oracle: the blob, run by the firmware-faithful engine, must compute what the
// ONNX graph computes, as the independent reference evaluator (float64) says.

/**
 * Every blob value may differ from the reference by this much times max(1, max |reference|) (the
 * rule of `cpml validate`). Scaling by each value's own magnitude instead fails float32 rounding:
 * a value that is a small difference of large terms carries the large terms' rounding error
 * (seen on mutated models with outputs ~1e17 and ~40).
 */
export const ORACLE_TOLERANCE = 1e-4;
/**
 * Of the converted variants of corpus files (the same three dozen models over and over, most of
 * them the MNIST CNN), one in this many is compared (chosen by the file's hash): comparing every one
 * costs as much as all generated models together. Generated models are always compared.
 */
export const ORACLE_SAMPLE = 4;
/**
 * Blobs needing more MACs than this are not compared (the reference is refused with a
 * ComputeBudgetError, as `cpml validate` refuses beyond its limit): its float64 loops would take
 * longer than the per-call budget. Generated models stay far below; a few mutated ones do not.
 */
export const ORACLE_MAX_MACS = 20_000_000;
/** Largest tensor the reference may allocate here (its own default is 16 Mi values). */
const ORACLE_MAX_ELEMENTS = 1 << 22;

/**
 * The oracle's input for a model file: n values uniform in [-1, 1), from seededRandom seeded with
 * the FNV-1a hash of the file's bytes, so a reproducer file alone gives the input back.
 */
export function oracleInput(bytes: Uint8Array, n: number): Float32Array {
  const random = seededRandom(fnv1a(bytes));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = random() * 2 - 1;
  return out;
}

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/** Magnitude beyond which outputs are not compared (the firmware's MaxPool floor, −1e30). */
const ORACLE_MAX_MAGNITUDE = 1e30;

function withinMagnitude(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (Math.abs(values[i]) >= ORACLE_MAX_MAGNITUDE * 0.999) return false;
  return true;
}

/** A float initializer or Constant value holds NaN or ±Infinity (the comparison then means nothing). */
function hasNonFiniteConstant(graph: OnnxGraph): boolean {
  for (const t of graph.initializers.values()) if (t.kind === 'float' && !allFinite(t.data)) return true;
  for (const node of graph.nodes) {
    for (const a of node.attributes.values()) if (a.type === 'tensor' && a.value.kind === 'float' && !allFinite(a.value.data)) return true;
  }
  return false;
}

function formatValues(values: ArrayLike<number>, max = 8): string {
  const shown = Array.from({ length: Math.min(values.length, max) }, (_, i) => Number(values[i].toPrecision(7)));
  return `[${shown.join(', ')}${values.length > max ? ', …' : ''}]`;
}

/**
 * Compares the blob's output on the oracle's input with the reference evaluator's and requires every
 * output value to agree within ORACLE_TOLERANCE × max(1, max |reference|). Skipped (an outcome, not a
 * failure) when the evaluator refuses the model or any weight, reference or blob value is not finite
 * (or, for a disagreement, beyond ±1e30: see ORACLE_MAX_MAGNITUDE). A disagreement is an invariant
 * failure; the reproducer is the model file (the input follows from it, see oracleInput).
 */
function differential(conversion: Conversion, model: LoadedModel, input: Float32Array, actual: Float32Array): string {
  // The model's constants, and the blob's weights (folding can overflow float32).
  if (hasNonFiniteConstant(conversion.graph) || !allFinite(model.weightArea)) return 'oracle skipped (non-finite weights)';
  const expected = elementCount(conversion.input.dims);
  if (model.inputElements !== expected) {
    throw invariant('loadModel', `the blob takes ${model.inputElements} input values, but the ONNX input ${JSON.stringify(conversion.input.name)} of shape [${conversion.input.dims.join(', ')}] has ${expected}`);
  }
  let reference: Float32Array;
  try {
    reference = guarded('evaluateOnnx', () => {
      assertWithinComputeBudget(conversion.records, ORACLE_MAX_MACS);
      return evaluateOnnx(conversion.graph, input, { maxElements: ORACLE_MAX_ELEMENTS }).output;
    });
  } catch (error) {
    if (error instanceof Abort) throw error;
    return `oracle skipped (${(error as Error).name})`;
  }
  if (actual.length !== reference.length) {
    throw invariant('evaluateOnnx', `the blob returns ${actual.length} values, the ONNX graph ${reference.length}: expected ${formatValues(reference)}, got ${formatValues(actual)}`);
  }
  if (!allFinite(reference) || !allFinite(actual)) return 'oracle skipped (non-finite values)';
  let peak = 1;
  for (let i = 0; i < reference.length; i++) peak = Math.max(peak, Math.abs(reference[i]));
  const allowed = ORACLE_TOLERANCE * peak;
  let bad = 0, worst = -1, worstError = 0;
  for (let i = 0; i < reference.length; i++) {
    const error = Math.abs(actual[i] - reference[i]);
    if (!(error <= allowed)) {
      bad++;
      if (!(error <= worstError)) {
        worst = i;
        worstError = error;
      }
    }
  }
  // The firmware's MaxPool starts each window at −1e30, so it cannot return anything lower: values
  // that far out (only mutated weights reach them) are as incomparable as infinite ones.
  if (bad && (!withinMagnitude(reference) || !withinMagnitude(actual))) return 'oracle skipped (values beyond ±1e30 disagree)';
  if (bad) {
    const e = reference[worst], g = actual[worst];
    throw invariant('evaluateOnnx', `the blob disagrees with the ONNX reference evaluator at ${bad} of ${reference.length} output values; ` +
      `worst at #${worst}: expected ${e}, got ${g} (|error| ${Math.abs(g - e).toExponential(2)} > allowed ${allowed.toExponential(2)}); ` +
      `expected ${formatValues(reference)}, got ${formatValues(actual)}; input: oracleInput(<file bytes>, ${input.length}) from test/fuzz/fuzzCases.ts = ${formatValues(input, 4)}`);
  }
  return 'oracle agrees';
}

export interface RunOptions {
  /** Run the oracle on one in ORACLE_SAMPLE of such cases only (FuzzCase.fromCorpus); default: always. */
  sampleOracle?: boolean;
}

export function runCase(kind: FuzzKind, bytes: Uint8Array, options: RunOptions = {}): CaseResult {
  slowLimit = slowLimitMs(bytes.length);
  try {
    if (kind === 'blob') return { outcome: checkBlob(bytes, false).outcome };
    let conversion: Conversion;
    try {
      conversion = guarded('convert', () => convertOnnxBytes(bytes, 'fuzz.onnx'));
    } catch (error) {
      if (error instanceof Abort) throw error;
      return { outcome: (error as Error).name };
    }
    // Whatever the converter returns must pass its own validation and run...
    const { outcome, ran } = checkBlob(conversion.blob, true, (n) => oracleInput(bytes, n));
    // ...and compute what the ONNX graph computes.
    const compare = ran && (!options.sampleOracle || fnv1a(bytes) % ORACLE_SAMPLE === 0);
    return { outcome: `converted, ${outcome}${compare ? `, ${differential(conversion, ran.model, ran.input, ran.output)}` : ''}` };
  } catch (error) {
    if (error instanceof Abort) return { outcome: `FAIL ${error.failure.reason}`, failure: error.failure };
    throw error;
  }
}
