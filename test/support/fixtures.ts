// Paths and readers for the test fixtures (tests run with cwd = repo root).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES_DIR = join('test', 'fixtures', 'models');
export const UPSTREAM_DIR = join('examples', 'mnist'); // the upstream example, shipped with its attribution

export interface ManifestEntry {
  name: string;
  /** ok: PyTorch reference stored; refuse: must be refused; converts: once refused, now converted (checked against the ONNX evaluator). */
  kind: 'ok' | 'refuse' | 'converts';
  opset: number;
  input_shape: number[];
  output_len?: number;
  expect?: string;
  note: string;
}

export function readManifest(): ManifestEntry[] {
  return JSON.parse(readFileSync(join(FIXTURES_DIR, 'manifest.json'), 'utf8')) as ManifestEntry[];
}

export function fixturePath(name: string, suffix: string): string {
  return join(FIXTURES_DIR, name + suffix);
}

/** A file's bytes as a fresh Uint8Array (own buffer, offset 0). */
export function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Raw little-endian float32 file → Float32Array. */
export function readFloat32File(path: string): Float32Array {
  const bytes = readBytes(path);
  if (bytes.length % 4 !== 0) throw new Error(`${path}: ${bytes.length} bytes is not a whole number of float32 values`);
  const view = new DataView(bytes.buffer);
  return Float32Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

export function upstreamPath(...parts: string[]): string {
  return join(UPSTREAM_DIR, ...parts);
}

export interface FirmwareOutput {
  sample: string;
  /** The firmware's printed values (9 significant digits), as text. */
  values: string[];
}

/** firmware_outputs.txt: per line `sample_NN.bin` then 10 numbers. */
export function readFirmwareOutputs(): FirmwareOutput[] {
  return readFileSync(upstreamPath('firmware_outputs.txt'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [sample, ...values] = line.split(/\s+/);
      return { sample, values };
    });
}

/** Largest |a[i] - b[i]|; throws when the lengths differ. */
export function maxAbsError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > max) max = d;
  }
  return max;
}

/** Deterministic PRNG for reproducible junk inputs (the same one validation uses). */
export { seededRandom as prng } from '../../src/core/engine/seededRandom.js';
