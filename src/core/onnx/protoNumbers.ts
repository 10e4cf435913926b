// protobufjs decodes int64 fields to Long objects (when the `long` package is present) or numbers.
import type Long from 'long';

export function toNumber(value: number | Long | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}
