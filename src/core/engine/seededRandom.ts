// A small seeded PRNG (mulberry32) so that "random" validation inputs are reproducible.
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n float32 values uniform in [0, 1): the range of the normalised images these models take. */
export function randomInput(n: number, random: () => number): Float32Array {
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = random();
  return values;
}
