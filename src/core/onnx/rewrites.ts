// What a rewrite costs: the firmware has no layer for some ops, so the converter computes them
// with the layers it has (a depthwise Conv as a full Conv, an AvgPool as a Conv, a BatchNorm as
// a 1×1 Conv…). Exact, but the work or the weights can grow; users see each rewrite and its price.
import { UnsupportedModelError, type NodeRef } from '../errors.js';
import { nodeLabel } from './chainState.js';
import { safeName } from '../text/untrustedText.js';

export interface Rewrite {
  node: NodeRef;
  /** How it runs, e.g. "runs as a full Conv (block-diagonal weights)". */
  how: string;
  /** Multiply-accumulates per inference of what the op would cost natively, and of what runs. */
  macs: { before: number; after: number };
  /** float32 parameters (weights and bias) before and after the rewrite. */
  parameters: { before: number; after: number };
  /** A qualifier for the op, e.g. "depthwise" for a Conv with group = channels. */
  kind?: string;
}

function bytes(n: number): string {
  const a = Math.abs(n);
  return a < 1024 ? `${a} B` : `${(a / 1024).toFixed(1)} KB`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** "depthwise Conv 'x' (#3) runs as a full Conv: 8× the MACs, +2.3 KB of weights" */
export function describeRewrite(r: Rewrite): string {
  const op = `${r.kind ? `${r.kind} ` : ''}${safeName(r.node.op, 60)} ${nodeLabel(r.node)}${r.node.name ? ` (#${r.node.index})` : ''}`;
  const costs: string[] = [];
  const { before, after } = r.macs;
  if (after !== before) {
    const ratio = before > 0 ? after / before : Infinity;
    costs.push(before > 0 && ratio >= 1.05 ? `${formatRatio(ratio)}× the MACs (${count(after)})` : `${after > before ? '+' : '−'}${count(Math.abs(after - before))} MACs`);
  }
  const extra = (r.parameters.after - r.parameters.before) * 4;
  if (extra !== 0) costs.push(`${extra > 0 ? '+' : '−'}${bytes(extra)} of weights`);
  return `${op} ${r.how}${costs.length ? `: ${costs.join(', ')}` : ' (no extra cost)'}`;
}

function formatRatio(x: number): string {
  return x >= 10 ? String(Math.round(x)) : x.toFixed(1).replace(/\.0$/, '');
}

/**
 * Weights a rewrite may write (4 MB of float32): many times any board's RAM already, so a larger
 * rewrite is refused at once instead of being built and then refused by the memory plan.
 */
export const MAX_REWRITE_WEIGHTS = 1 << 20;

/** Refuses a rewrite whose weights would exceed MAX_REWRITE_WEIGHTS, before allocating them. */
export function assertRewriteFits(node: NodeRef, weights: number, what: string): void {
  if (weights <= MAX_REWRITE_WEIGHTS) return;
  throw new UnsupportedModelError(`${what} needs ${weights.toLocaleString('en-US')} weights (${(weights * 4 / 1048576).toFixed(0)} MB), far more than the board's RAM`,
    { node, hint: 'Use fewer channels, a smaller kernel or dilation, or a smaller tensor' });
}
