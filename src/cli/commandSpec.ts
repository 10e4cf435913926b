// The shape of a cpml command: its help text, its options (node:util parseArgs) and its action.
import type { ParseArgsConfig } from 'node:util';
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

export function numberOption(args: ParsedArgs, name: string, fallback: number, check: (n: number) => boolean, what: string): number {
  const text = stringOption(args, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || !check(n)) {
    throw new UsageError(`--${name} must be ${what}, got '${text}'`);
  }
  return n;
}
