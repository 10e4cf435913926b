// Deterministic input mutators for the fuzz test: byte-level (bit flips, interesting values,
// truncation, chunk deletion/duplication/insertion, splicing), protobuf-aware (a structural
// parse of the wire format that is mutated and re-encoded, optionally with a wrong length
// prefix) and cnn_helper-blob-aware (record fields, layer count, record table, weight area).
// Everything is driven by a seeded PRNG so a case is reproducible from (seed, index) alone.

import { seededRandom } from '../../src/core/engine/seededRandom.js';

// ---------------------------------------------------------------------------------------------
// PRNG

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** A uint32 (mulberry32). */
  u32(): number {
    return this.next() * 0x100000000;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 0x100000000) * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Small counts, mostly 1: 1 + number of successes before a failure with probability p. */
  geometric(p: number, max: number): number {
    let n = 1;
    while (n < max && this.chance(p)) n++;
    return n;
  }
}

/** Mixes a seed, a stream id and an index into one 32-bit seed (so cases are independent). */
export function caseSeed(seed: number, stream: number, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [stream, index]) {
    h = Math.imul(h ^ v, 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// Byte-level mutations

export const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x81, 0xfe, 0x01, 0x02, 0x08, 0x0a, 0x10, 0x12, 0x1a, 0x22, 0x3a, 0x40] as const;
export const INTERESTING_U16 = [0, 1, 2, 3, 255, 256, 4096, 32767, 32768, 65534, 65535] as const;
export const INTERESTING_U32 = [0, 1, 2, 3, 4, 255, 256, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff] as const;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.u32() & 0xff;
  return out;
}

/** A length to truncate to: the classic edge lengths, structural guesses and random ones. */
export function truncationLength(rng: Rng, length: number, boundaries: readonly number[] = []): number {
  switch (rng.int(6)) {
    case 0: return rng.pick([0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 29, 30, 31]) % (length + 1);
    case 1: return Math.max(0, length - rng.range(1, 8));
    case 2: return Math.floor(length / rng.range(2, 8));
    case 3: if (boundaries.length) return Math.min(length, Math.max(0, rng.pick(boundaries) + rng.range(-1, 1))); return rng.int(length + 1);
    default: return rng.int(length + 1);
  }
}

export type ByteMutation = (rng: Rng, data: Uint8Array, others: readonly Uint8Array[]) => Uint8Array;

export const BYTE_MUTATIONS: Record<string, ByteMutation> = {
  bitFlip(rng, data) {
    if (!data.length) return data;
    const out = data.slice();
    for (let n = rng.geometric(0.5, 8); n > 0; n--) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  interestingByte(rng, data) {
    if (!data.length) return data;
    const out = data.slice();
    out[rng.int(out.length)] = rng.pick(INTERESTING_BYTES);
    return out;
  },
  interestingWord(rng, data) {
    if (data.length < 4) return data;
    const out = data.slice();
    const view = new DataView(out.buffer);
    const at = rng.int(out.length - 3);
    if (rng.chance(0.5)) view.setUint16(at, rng.pick(INTERESTING_U16), true);
    else view.setUint32(at, rng.pick(INTERESTING_U32), true);
    return out;
  },
  arithmetic(rng, data) {
    if (!data.length) return data;
    const out = data.slice();
    out[rng.int(out.length)] += rng.chance(0.5) ? rng.range(1, 35) : 256 - rng.range(1, 35);
    return out;
  },
  /** A run of varint continuation bytes: an endless or over-long varint. */
  varintRun(rng, data) {
    const at = rng.int(data.length + 1);
    const run = new Uint8Array(rng.range(1, 12)).fill(rng.pick([0x80, 0xff]));
    if (rng.chance(0.5)) run[run.length - 1] = 0x01;
    if (rng.chance(0.5)) return concat(data.subarray(0, at), run, data.subarray(at));
    const out = data.slice();
    out.set(run.subarray(0, Math.max(0, out.length - at)), at);
    return out;
  },
  truncate(rng, data) {
    return data.slice(0, truncationLength(rng, data.length));
  },
  deleteChunk(rng, data) {
    if (!data.length) return data;
    const at = rng.int(data.length);
    const n = Math.min(data.length - at, rng.chance(0.7) ? rng.range(1, 16) : rng.range(1, 512));
    return concat(data.subarray(0, at), data.subarray(at + n));
  },
  duplicateChunk(rng, data) {
    if (!data.length) return data;
    const from = rng.int(data.length);
    const n = Math.min(data.length - from, rng.chance(0.7) ? rng.range(1, 32) : rng.range(1, 1024));
    const to = rng.int(data.length + 1);
    const chunk = data.slice(from, from + n);
    const copies = rng.chance(0.1) ? rng.range(2, 16) : 1;
    return concat(data.subarray(0, to), ...Array.from({ length: copies }, () => chunk), data.subarray(to));
  },
  insertBytes(rng, data) {
    const at = rng.int(data.length + 1);
    const n = rng.range(1, 64);
    const chunk = rng.chance(0.5) ? randomBytes(rng, n) : new Uint8Array(n).fill(rng.pick(INTERESTING_BYTES));
    return concat(data.subarray(0, at), chunk, data.subarray(at));
  },
  overwriteChunk(rng, data) {
    if (data.length < 2) return data;
    const out = data.slice();
    const from = rng.int(out.length);
    const to = rng.int(out.length);
    const n = Math.min(out.length - from, out.length - to, rng.range(1, 64));
    out.copyWithin(to, from, from + n);
    return out;
  },
  /** Crossover: a prefix of this input and a suffix of another corpus input. */
  splice(rng, data, others) {
    if (!others.length) return data;
    const other = rng.pick(others);
    return concat(data.subarray(0, rng.int(data.length + 1)), other.subarray(rng.int(other.length + 1)));
  },
};

const BYTE_MUTATION_LIST = Object.values(BYTE_MUTATIONS);

export function mutateBytes(rng: Rng, data: Uint8Array, others: readonly Uint8Array[], count = rng.geometric(0.4, 6)): Uint8Array {
  let out = data;
  for (let i = 0; i < count; i++) out = rng.pick(BYTE_MUTATION_LIST)(rng, out, others);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Protobuf wire format: a structural parse that re-encodes byte for byte

export interface PbField {
  no: number;
  wire: 0 | 1 | 2 | 5;
  /** wire 0. */
  varint?: bigint;
  /** wire 1, 5 and 2 (when not parsed as a message). */
  bytes?: Uint8Array;
  /** wire 2 whose payload parses as a message. */
  children?: PbField[];
  /** When set, the length prefix written for this wire-2 field (a corrupted length). */
  lengthOverride?: number;
}

const MAX_DEPTH = 10;

/** A varint at `at`; undefined when cut off, over-long, or not minimally encoded (so re-encoding is exact). */
function readVarint(data: Uint8Array, at: number): { value: bigint; next: number } | undefined {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    if (at + i >= data.length) return undefined;
    const b = data[at + i];
    value |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (!(b & 0x80)) return i > 0 && b === 0 ? undefined : { value, next: at + i + 1 };
  }
  return undefined;
}

function writeVarint(out: number[], value: bigint): void {
  let v = BigInt.asUintN(64, value);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
}

/**
 * Parses a whole buffer as a message; undefined unless it parses cleanly. Only minimal varints are
 * accepted, so encodeMessage gives back exactly the same bytes.
 */
export function parseMessage(data: Uint8Array, depth = 0): PbField[] | undefined {
  const fields: PbField[] = [];
  let at = 0;
  while (at < data.length) {
    const tag = readVarint(data, at);
    if (!tag) return undefined;
    at = tag.next;
    const no = Number(tag.value >> 3n);
    const wire = Number(tag.value & 7n);
    if (no < 1 || no > 536870911) return undefined;
    if (wire === 0) {
      const v = readVarint(data, at);
      if (!v) return undefined;
      fields.push({ no, wire, varint: v.value });
      at = v.next;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (at + n > data.length) return undefined;
      fields.push({ no, wire, bytes: data.slice(at, at + n) });
      at += n;
    } else if (wire === 2) {
      const len = readVarint(data, at);
      if (!len || len.value > BigInt(data.length - len.next)) return undefined;
      at = len.next;
      const payload = data.subarray(at, at + Number(len.value));
      at += payload.length;
      const children = depth < MAX_DEPTH && payload.length > 0 ? parseMessage(payload, depth + 1) : undefined;
      fields.push(children ? { no, wire, children } : { no, wire, bytes: payload.slice() });
    } else {
      return undefined;
    }
  }
  return fields;
}

export function encodeMessage(fields: readonly PbField[]): Uint8Array {
  const out: number[] = [];
  encodeInto(out, fields);
  return Uint8Array.from(out);
}

function encodeInto(out: number[], fields: readonly PbField[]): void {
  for (const f of fields) {
    writeVarint(out, (BigInt(f.no) << 3n) | BigInt(f.wire));
    if (f.wire === 0) writeVarint(out, f.varint ?? 0n);
    else if (f.wire === 2) {
      const payload = f.children ? encodeMessage(f.children) : f.bytes ?? new Uint8Array();
      writeVarint(out, BigInt(f.lengthOverride ?? payload.length));
      for (const b of payload) out.push(b);
    } else {
      for (const b of f.bytes ?? new Uint8Array(f.wire === 1 ? 8 : 4)) out.push(b);
    }
  }
}

function cloneFields(fields: readonly PbField[]): PbField[] {
  return fields.map((f) => ({ ...f, children: f.children && cloneFields(f.children), bytes: f.bytes?.slice() }));
}

interface Located {
  field: PbField;
  siblings: PbField[];
}

function allFields(fields: PbField[], out: Located[] = []): Located[] {
  for (const field of fields) {
    out.push({ field, siblings: fields });
    if (field.children) allFields(field.children, out);
  }
  return out;
}

const INTERESTING_VARINTS: readonly bigint[] = [
  0n, 1n, 2n, 3n, 4n, 7n, 8n, 11n, 16n, 255n, 256n, 1000n, 65535n, 65536n, 0x7fffffffn, 0x80000000n,
  0xffffffffn, 0x100000000n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n - 2n,
];

const INTERESTING_FLOATS = [0, -0, 1, -1, 0.5, 1e-45, 1e30, -1e30, 3.4e38, Infinity, -Infinity, NaN];

function isPrintable(b: Uint8Array): boolean {
  return b.length > 0 && b.length <= 64 && b.every((c) => c >= 0x20 && c < 0x7f);
}

function interestingFixed(rng: Rng, wire: 1 | 5): Uint8Array {
  const out = new Uint8Array(wire === 1 ? 8 : 4);
  const view = new DataView(out.buffer);
  const v = rng.pick(INTERESTING_FLOATS);
  if (wire === 1) view.setFloat64(0, v, true);
  else view.setFloat32(0, v, true);
  return out;
}

export type TreeMutation = (rng: Rng, root: PbField[], all: Located[], donors: readonly PbField[][]) => void;

export const TREE_MUTATIONS: Record<string, TreeMutation> = {
  deleteField(rng, _root, all) {
    const { field, siblings } = rng.pick(all);
    siblings.splice(siblings.indexOf(field), 1);
  },
  duplicateField(rng, _root, all) {
    const { field, siblings } = rng.pick(all);
    const copies = rng.chance(0.1) ? rng.range(2, 40) : 1;
    for (let i = 0; i < copies; i++) siblings.splice(rng.int(siblings.length + 1), 0, cloneFields([field])[0]);
  },
  swapSiblings(rng, _root, all) {
    const { field, siblings } = rng.pick(all);
    const i = siblings.indexOf(field);
    const j = rng.int(siblings.length);
    [siblings[i], siblings[j]] = [siblings[j], siblings[i]];
  },
  /** Changes a field's number: to a sibling's (so it is read as another field), or a nearby one. */
  retag(rng, _root, all) {
    const { field, siblings } = rng.pick(all);
    field.no = rng.chance(0.6) ? rng.pick(siblings).no : Math.max(1, field.no + rng.range(-3, 3));
  },
  /** Swaps the tags of two sibling fields. */
  swapTags(rng, _root, all) {
    const { field, siblings } = rng.pick(all);
    const other = rng.pick(siblings);
    [field.no, other.no] = [other.no, field.no];
  },
  setVarint(rng, _root, all) {
    const varints = all.filter((l) => l.field.wire === 0);
    if (!varints.length) return;
    const f = rng.pick(varints).field;
    const old = f.varint ?? 0n;
    switch (rng.int(4)) {
      case 0: f.varint = rng.pick(INTERESTING_VARINTS); break;
      case 1: f.varint = BigInt.asUintN(64, old + BigInt(rng.range(-3, 3))); break;
      case 2: f.varint = BigInt(rng.int(300)); break;
      default: f.varint = BigInt.asUintN(64, old * BigInt(rng.pick([2, 10, 1000, 65536])));
    }
  },
  setFixed(rng, _root, all) {
    const fixed = all.filter((l) => l.field.wire === 1 || l.field.wire === 5);
    if (!fixed.length) return;
    const f = rng.pick(fixed).field;
    f.bytes = interestingFixed(rng, f.wire as 1 | 5);
  },
  /** Replaces a string (tensor/node names, op types, attribute names) with another one of the model. */
  swapString(rng, _root, all) {
    const strings = all.filter((l) => l.field.bytes && l.field.wire === 2 && isPrintable(l.field.bytes));
    if (strings.length < 2) return;
    const target = rng.pick(strings).field;
    const source = rng.pick(strings).field;
    target.bytes = rng.chance(0.9) ? source.bytes!.slice() : source.bytes!.slice(0, rng.int(source.bytes!.length));
  },
  mutateLeafBytes(rng, _root, all, donors) {
    const leaves = all.filter((l) => l.field.wire === 2 && !l.field.children);
    if (!leaves.length) return;
    const f = rng.pick(leaves).field;
    const data = f.bytes ?? new Uint8Array();
    switch (rng.int(4)) {
      case 0: f.bytes = new Uint8Array(); break;
      case 1: f.bytes = data.slice(0, truncationLength(rng, data.length)); break;
      default: f.bytes = mutateBytes(rng, data, donors.length ? [encodeMessage(rng.pick(donors))] : [], 1);
    }
  },
  /** A message's content turned into opaque bytes (then cut), or its children emptied. */
  truncateMessage(rng, _root, all) {
    const messages = all.filter((l) => l.field.children);
    if (!messages.length) return;
    const f = rng.pick(messages).field;
    if (rng.chance(0.5)) {
      f.children = f.children!.slice(0, rng.int(f.children!.length + 1));
    } else {
      const payload = encodeMessage(f.children!);
      f.children = undefined;
      f.bytes = payload.slice(0, truncationLength(rng, payload.length));
    }
  },
  /** Copies a subtree of another corpus model into a random message of this one. */
  graft(rng, root, all, donors) {
    if (!donors.length) return;
    const donorAll = allFields(rng.pick(donors));
    if (!donorAll.length) return;
    const piece = cloneFields([rng.pick(donorAll).field])[0];
    const messages = all.filter((l) => l.field.children).map((l) => l.field.children!);
    const target = rng.chance(0.2) || !messages.length ? root : rng.pick(messages);
    target.splice(rng.int(target.length + 1), 0, piece);
  },
  /** The classic: a length prefix that does not match its payload. */
  corruptLength(rng, _root, all) {
    const delimited = all.filter((l) => l.field.wire === 2);
    if (!delimited.length) return;
    const f = rng.pick(delimited).field;
    const real = f.children ? encodeMessage(f.children).length : f.bytes?.length ?? 0;
    f.lengthOverride = Math.max(0, rng.pick([real + 1, real - 1, real + rng.range(2, 100), real - rng.range(2, 100), 0, real * 2, 0x7fffffff, 0xffffffff]));
  },
};

const TREE_MUTATION_LIST = Object.values(TREE_MUTATIONS);

/** Parses, applies 1+ structural mutations and re-encodes; undefined when `data` is not protobuf. */
export function mutateProtobuf(rng: Rng, data: Uint8Array, donors: readonly PbField[][], parsed?: PbField[]): Uint8Array | undefined {
  const tree = parsed ? cloneFields(parsed) : parseMessage(data);
  if (!tree) return undefined;
  for (let n = rng.geometric(0.45, 6); n > 0; n--) {
    const all = allFields(tree);
    if (!all.length) break;
    rng.pick(TREE_MUTATION_LIST)(rng, tree, all, donors);
  }
  return encodeMessage(tree);
}

// ---------------------------------------------------------------------------------------------
// cnn_helper blobs

interface RawRecord {
  type: number; inC: number; outC: number; kernel: number; stride: number; padding: number;
  inH: number; inW: number; outH: number; outW: number; weightOffset: number; biasOffset: number;
}

const RECORD_FIELDS: readonly { key: keyof RawRecord; bits: 8 | 16 | 32 }[] = [
  { key: 'type', bits: 8 }, { key: 'inC', bits: 8 }, { key: 'outC', bits: 8 }, { key: 'kernel', bits: 8 },
  { key: 'stride', bits: 8 }, { key: 'padding', bits: 8 }, { key: 'inH', bits: 16 }, { key: 'inW', bits: 16 },
  { key: 'outH', bits: 16 }, { key: 'outW', bits: 16 }, { key: 'weightOffset', bits: 32 }, { key: 'biasOffset', bits: 32 },
];

interface RawBlob {
  magic: number;
  records: RawRecord[];
  area: Uint8Array;
}

/** Reads header, records (as many as fit) and the weight area; undefined if there is no record. */
function readRawBlob(data: Uint8Array): RawBlob | undefined {
  if (data.length < 30) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = Math.min(view.getUint32(4, true), Math.floor((data.length - 8) / 22), 4096);
  if (count === 0) return undefined;
  const records: RawRecord[] = [];
  for (let i = 0; i < count; i++) {
    const at = 8 + 22 * i;
    records.push({
      type: view.getUint8(at), inC: view.getUint8(at + 1), outC: view.getUint8(at + 2), kernel: view.getUint8(at + 3),
      stride: view.getUint8(at + 4), padding: view.getUint8(at + 5), inH: view.getUint16(at + 6, true),
      inW: view.getUint16(at + 8, true), outH: view.getUint16(at + 10, true), outW: view.getUint16(at + 12, true),
      weightOffset: view.getUint32(at + 14, true), biasOffset: view.getUint32(at + 18, true),
    });
  }
  const start = 8 + 64 * count;
  return { magic: view.getUint32(0, true), records, area: data.slice(Math.min(start, data.length)) };
}

function writeRawBlob(blob: RawBlob, countField = blob.records.length): Uint8Array {
  const n = blob.records.length;
  const out = new Uint8Array(8 + 64 * n + blob.area.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, blob.magic >>> 0, true);
  view.setUint32(4, countField >>> 0, true);
  blob.records.forEach((r, i) => {
    const at = 8 + 22 * i;
    view.setUint8(at, r.type & 0xff);
    view.setUint8(at + 1, r.inC & 0xff);
    view.setUint8(at + 2, r.outC & 0xff);
    view.setUint8(at + 3, r.kernel & 0xff);
    view.setUint8(at + 4, r.stride & 0xff);
    view.setUint8(at + 5, r.padding & 0xff);
    view.setUint16(at + 6, r.inH & 0xffff, true);
    view.setUint16(at + 8, r.inW & 0xffff, true);
    view.setUint16(at + 10, r.outH & 0xffff, true);
    view.setUint16(at + 12, r.outW & 0xffff, true);
    view.setUint32(at + 14, r.weightOffset >>> 0, true);
    view.setUint32(at + 18, r.biasOffset >>> 0, true);
  });
  out.set(blob.area, 8 + 64 * n);
  return out;
}

function interestingFor(rng: Rng, bits: 8 | 16 | 32, blob: RawBlob): number {
  if (bits === 8) return rng.chance(0.7) ? rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 16, 127, 128, 254, 255]) : rng.int(256);
  if (bits === 16) return rng.chance(0.7) ? rng.pick(INTERESTING_U16) : rng.int(65536);
  const area = blob.area.length;
  return rng.pick([...INTERESTING_U32, area, area - 4, area + 4, (area >> 1) & ~3, rng.int(area + 1) & ~3, rng.int(0x100000000)]) >>> 0;
}

/**
 * Makes shapes follow from one layer to the next again (conv/pool output sizes from their
 * parameters, element-wise layers keeping their input), so mutated blobs often pass validation
 * and reach the engine with unusual shapes.
 */
function repairChain(records: RawRecord[]): void {
  records.forEach((r, i) => {
    if (i > 0) {
      const p = records[i - 1];
      if (r.type === 1 || r.type === 2 || r.type === 3 || r.type === 6 || r.type === 4) {
        r.inC = p.outC; r.inH = p.outH; r.inW = p.outW;
      }
    }
    if (r.type === 1 && r.stride > 0) {
      r.outH = Math.floor((r.inH + 2 * r.padding - r.kernel) / r.stride) + 1;
      r.outW = Math.floor((r.inW + 2 * r.padding - r.kernel) / r.stride) + 1;
    } else if (r.type === 2 && r.stride > 0) {
      r.outC = r.inC;
      r.outH = Math.floor((r.inH - r.kernel) / r.stride) + 1;
      r.outW = Math.floor((r.inW - r.kernel) / r.stride) + 1;
    } else if (r.type === 3 || r.type === 6 || r.type === 4) {
      r.outC = r.inC; r.outH = r.inH; r.outW = r.inW;
    }
  });
}

export type BlobMutation = (rng: Rng, blob: RawBlob) => number | void;

export const BLOB_MUTATIONS: Record<string, BlobMutation> = {
  recordField(rng, blob) {
    const r = rng.pick(blob.records);
    const { key, bits } = rng.pick(RECORD_FIELDS);
    r[key] = interestingFor(rng, bits, blob);
  },
  /** A small change to a shape or parameter, then the chain repaired. */
  tweakAndRepair(rng, blob) {
    const r = rng.pick(blob.records);
    const { key, bits } = rng.pick(RECORD_FIELDS.slice(0, 10));
    const max = bits === 8 ? 255 : 65535;
    r[key] = rng.chance(0.5) ? Math.min(max, Math.max(0, r[key] + rng.range(-3, 3))) : interestingFor(rng, bits, blob);
    repairChain(blob.records);
  },
  /** The header's layer count disagrees with the records. */
  layerCount(rng, blob) {
    const n = blob.records.length;
    return rng.pick([0, 1, n - 1, n + 1, n + 2, 0xff, 0xffff, 0x3ffffff, 0x7fffffff, 0xffffffff]);
  },
  deleteLayer(rng, blob) {
    if (blob.records.length > 1) blob.records.splice(rng.int(blob.records.length), 1);
    if (rng.chance(0.5)) repairChain(blob.records);
  },
  duplicateLayer(rng, blob) {
    const i = rng.int(blob.records.length);
    blob.records.splice(rng.int(blob.records.length + 1), 0, { ...blob.records[i] });
    if (rng.chance(0.5)) repairChain(blob.records);
  },
  swapLayers(rng, blob) {
    const i = rng.int(blob.records.length), j = rng.int(blob.records.length);
    [blob.records[i], blob.records[j]] = [blob.records[j], blob.records[i]];
    if (rng.chance(0.5)) repairChain(blob.records);
  },
  /** An element-wise layer (ReLU/Softmax/Flatten) inserted with the shape of its neighbour. */
  insertLayer(rng, blob) {
    const i = rng.int(blob.records.length + 1);
    const ref = blob.records[Math.max(0, i - 1)];
    const c = i === 0 ? ref.inC : ref.outC, h = i === 0 ? ref.inH : ref.outH, w = i === 0 ? ref.inW : ref.outW;
    blob.records.splice(i, 0, {
      type: rng.pick([3, 4, 6, 2]), inC: c, outC: c, kernel: 1, stride: 1, padding: 0,
      inH: h, inW: w, outH: h, outW: w, weightOffset: 0, biasOffset: 0,
    });
  },
  /** Keeps the first layers only, so an unusual layer can be the last one (its output unchecked by a successor). */
  dropTail(rng, blob) {
    blob.records.length = rng.range(1, blob.records.length);
    if (rng.chance(0.5)) repairChain(blob.records);
  },
  /** Many copies of an element-wise layer (the stress cases of the test go to 200,000 layers). */
  manyLayers(rng, blob) {
    const last = blob.records[blob.records.length - 1];
    const c = last.outC, h = last.outH, w = last.outW;
    const n = rng.pick([2, 10, 255, 256, 1000]);
    const type = rng.pick([3, 4, 6]);
    for (let i = 0; i < n; i++) {
      blob.records.push({ type, inC: c, outC: c, kernel: 0, stride: 1, padding: 0, inH: h, inW: w, outH: h, outW: w, weightOffset: 0, biasOffset: 0 });
    }
  },
  resizeArea(rng, blob) {
    const n = blob.area.length;
    const size = rng.pick([0, 1, 3, 4, n - 1, n - 4, n + 1, n + 4, Math.floor(n / 2), n * 2]);
    const area = new Uint8Array(Math.max(0, size));
    area.set(blob.area.subarray(0, area.length));
    blob.area = area;
  },
  /** Weights that are NaN, infinite, huge or subnormal. */
  weirdWeights(rng, blob) {
    const floats = Math.floor(blob.area.length / 4);
    if (!floats) return;
    const view = new DataView(blob.area.buffer, blob.area.byteOffset, blob.area.byteLength);
    const value = rng.pick(INTERESTING_FLOATS);
    const all = rng.chance(0.2);
    for (let n = all ? floats : rng.range(1, 16); n > 0; n--) view.setFloat32((all ? n - 1 : rng.int(floats)) * 4, value, true);
  },
  magic(rng, blob) {
    blob.magic = rng.pick([0, 0x434e4e00, 0x014e4e43, 0xffffffff]);
  },
};

const BLOB_MUTATION_LIST = Object.values(BLOB_MUTATIONS);

/** Structural blob mutation (records re-laid out with a correct table); undefined if not a blob. */
export function mutateBlobStructure(rng: Rng, data: Uint8Array): Uint8Array | undefined {
  const blob = readRawBlob(data);
  if (!blob) return undefined;
  let countField: number | undefined;
  for (let n = rng.geometric(0.45, 5); n > 0; n--) {
    const result = rng.pick(BLOB_MUTATION_LIST)(rng, blob);
    if (typeof result === 'number') countField = result;
  }
  return writeRawBlob(blob, countField);
}

/** Byte offsets where a blob's structure changes: header, record starts, table end. */
export function blobBoundaries(data: Uint8Array): number[] {
  if (data.length < 8) return [0, 4, 8];
  const count = Math.min(new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(4, true), 512);
  const out = [0, 4, 8];
  for (let i = 1; i <= count; i++) out.push(8 + 22 * i, 8 + 64 * i);
  return out;
}
