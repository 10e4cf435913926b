// Collects console text and hands it on in batches, at most once per `flushMs`, so that a board
// printing thousands of short lines per second costs its consumer (VS Code's output channel) a
// few calls per second instead of thousands. If text arrives faster than the consumer takes
// it, the oldest part is dropped and one marker line says how much: memory stays bounded.
//
// Timing: text that arrives after a quiet spell is written at once; what arrives in the
// following `flushMs` is collected and written together when that time is up.

export interface OutputBatcherOptions {
  flushMs?: number;
  /** Most text held back; beyond it the oldest is dropped. */
  maxPendingChars?: number;
  write: (text: string) => void;
  /** `write` threw (e.g. its output was closed); the batch is lost. Default: ignore. */
  onError?: (error: unknown) => void;
}

export function skippedMarker(count: number): string {
  return `… ${count.toLocaleString('en-US')} characters skipped (the board printed faster than the monitor can show) …\n`;
}

/** When dropping, the cut moves forward to the next line start if one is this close. */
const LINE_SEARCH_CHARS = 4096;

export class OutputBatcher {
  private readonly flushMs: number;
  private readonly maxPendingChars: number;
  private pending: string[] = [];
  private pendingLength = 0;
  private skipped = 0;
  private timer?: NodeJS.Timeout;
  private endsWithNewline = true;
  private disposed = false;

  constructor(private readonly options: OutputBatcherOptions) {
    this.flushMs = options.flushMs ?? 50;
    this.maxPendingChars = Math.max(1, options.maxPendingChars ?? 1_000_000);
  }

  /** Characters waiting to be written. */
  get pendingChars(): number {
    return this.pendingLength;
  }

  push(text: string): void {
    if (this.disposed || !text) return;
    this.pending.push(text);
    this.pendingLength += text.length;
    if (this.pendingLength > this.maxPendingChars) this.dropOldest();
    if (this.timer) return; // a batch is being collected
    this.flush();
  }

  /** Writes everything pending now. */
  flush(): void {
    if (!this.pendingLength && !this.skipped) return;
    let text = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    if (this.skipped) {
      text = (this.endsWithNewline ? '' : '\n') + skippedMarker(this.skipped) + text;
      this.skipped = 0;
    }
    this.pending = [];
    this.pendingLength = 0;
    this.endsWithNewline = text.endsWith('\n');
    // Whatever comes in the next flushMs waits for this timer.
    clearTimeout(this.timer);
    if (!this.disposed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.flushMs);
    }
    try {
      this.options.write(text);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** Writes what is pending and stops; later text is ignored. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private dropOldest(): void {
    let excess = this.pendingLength - this.maxPendingChars;
    while (excess > 0 && this.pending[0].length <= excess) {
      const gone = this.pending.shift()!.length;
      excess -= gone;
      this.skipped += gone;
      this.pendingLength -= gone;
    }
    if (excess > 0) {
      const first = this.pending[0];
      let cut = excess;
      // Keep whole lines when a line start is near: the marker then stands on its own line.
      const newline = first.indexOf('\n', cut - 1);
      if (newline !== -1 && newline + 1 - cut <= LINE_SEARCH_CHARS) cut = newline + 1;
      this.pending[0] = first.slice(cut);
      this.skipped += cut;
      this.pendingLength -= cut;
      if (!this.pending[0]) this.pending.shift();
    }
  }
}
