// Telling user mistakes (CpmlError and its kin: shown as a message) from bugs (logged with a
// stack). Duck-typed: the toolchain bundle has its own copy of the error classes.
import { formatUserError, type UserErrorLike } from '../core/errors.js';

export function isUserError(error: unknown): error is UserErrorLike {
  return typeof (error as { userMessage?: unknown })?.userMessage === 'string';
}

/** A user error as formatUserError words it; anything else by its message. */
export function errorMessage(error: unknown, options: { sentence?: boolean } = {}): string {
  if (isUserError(error)) return formatUserError(error, options);
  return (error as { message?: string })?.message ?? String(error);
}
