// Telling user mistakes (CpmlError and its kin: shown as a message) from bugs (logged with a
// stack), without loading the toolchain bundle.
export function isUserError(error: unknown): boolean {
  return typeof (error as { userMessage?: unknown })?.userMessage === 'string';
}

export function errorMessage(error: unknown): string {
  const e = error as { userMessage?: string; message?: string };
  return e?.userMessage ?? e?.message ?? String(error);
}
