// The shape of a cpml command: its help text, its options (node:util parseArgs) and its action.
import type { ParseArgsConfig } from 'node:util';
import { quoted } from '../core/text/untrustedText.js';
import { UsageError, type CliIo } from './cliIo.js';

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Usage line(s) after `cpml `. */
  usage: string;
  /** Option descriptions for --help, one per line. */
  details: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Returns the exit status. */
  run(args: ParsedArgs, io: CliIo): number | Promise<number>;
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function stringList(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

/**
 * A whole number from `min` to `max`, written as one (digits, optional sign): `1e12`, `0x10`,
 * `2.5` and values beyond the range are refused with the range, not read as something else.
 */
export function integerOption(args: ParsedArgs, name: string, fallback: number, min: number, max: number): number {
  const text = stringOption(args, name);
  if (text === undefined) return fallback;
  const n = /^[+-]?\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${quoted(text, 40)}`);
  }
  return n;
}

export function numberOption(args: ParsedArgs, name: string, fallback: number, check: (n: number) => boolean, what: string): number {
  const text = stringOption(args, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || !check(n)) {
    throw new UsageError(`--${name} must be ${what}, got ${quoted(text, 40)}`);
  }
  return n;
}

/**
 * Largest heap any command accepts, in KB: far beyond every Pico (264 or 520 KB of SRAM), and
 * still a bound on what a hostile model may make the host engine allocate.
 */
export const MAX_HEAP_KB = 16 * 1024;

/** --heap KB: a positive number of kilobytes up to MAX_HEAP_KB; returns bytes. */
export function heapOption(args: ParsedArgs, fallbackKb: number): number {
  const kb = numberOption(args, 'heap', fallbackKb, (n) => n > 0 && n <= MAX_HEAP_KB, `a positive number of kilobytes, at most ${MAX_HEAP_KB}`);
  return Math.round(kb * 1024);
}
