// Where a command writes. Tests pass their own to run commands in-process.
import { escapeControlsInMessage } from '../core/text/untrustedText.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/**
 * The terminal. Whatever a command prints may quote input (node names, file names, board output):
 * control characters other than newline and tab are escaped here, the last line of defence
 * against a name that clears the screen or retitles the window.
 */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(escapeControlsInMessage(text)),
  err: (text) => process.stderr.write(escapeControlsInMessage(text)),
};

/** Wrong arguments: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = 'UsageError';
  }
}
