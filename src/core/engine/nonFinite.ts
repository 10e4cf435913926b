// NaN and ±Infinity in model outputs, inputs and weights. They poison every comparison: an
// error of Infinity is "≤ an allowed Infinity", and NaN is never the largest value, so a summary
// that ignores them reports a pass or a class that means nothing. Callers report them instead.

export interface NonFiniteCount {
  nan: number;
  posInf: number;
  negInf: number;
  /** Values looked at. */
  of: number;
}

export function countNonFinite(values: ArrayLike<number>): NonFiniteCount {
  const c = { nan: 0, posInf: 0, negInf: 0, of: values.length };
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) continue;
    if (Number.isNaN(v)) c.nan++;
    else if (v > 0) c.posInf++;
    else c.negInf++;
  }
  return c;
}

export function nonFiniteTotal(c: NonFiniteCount): number {
  return c.nan + c.posInf + c.negInf;
}

/** "NaN in 3 of 10 values", "2 NaN and 1 +Infinity among 10 values"; undefined when all are finite. */
export function describeNonFinite(c: NonFiniteCount): string | undefined {
  const parts = [[c.nan, 'NaN'], [c.posInf, '+Infinity'], [c.negInf, '-Infinity']].filter(([n]) => (n as number) > 0) as [number, string][];
  if (!parts.length) return undefined;
  if (parts.length === 1) return `${parts[0][1]} in ${parts[0][0]} of ${c.of} values`;
  const listed = parts.map(([n, what]) => `${n} ${what}`);
  return `${listed.slice(0, -1).join(', ')} and ${listed[listed.length - 1]} among ${c.of} values`;
}

/**
 * Index of the first largest value; null when there is none to trust: no values, or any NaN or
 * infinite one (an overflowed model's scores no longer rank its classes).
 */
export function argmaxOrNull(values: ArrayLike<number>): number | null {
  if (values.length === 0) return null;
  let best = 0;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) return null;
    if (values[i] > values[best]) best = i;
  }
  return best;
}
