// Why a deploy did not happen (or stopped). All are user errors: message + hint.
import { CpmlError } from '../errors.js';

export type DeployRefusal =
  /** The blob would not run on the firmware (validation errors). */
  | 'model'
  /** The memory plan exceeds the heap budget. */
  | 'memory'
  /**
   * The drive folder is missing, not a CIRCUITPY drive, has a folder where a file must go, or a
   * symbolic link where deploy would write (it never writes through one).
   */
  | 'drive'
  /** Not enough free space on the drive. */
  | 'space'
  /** A sample file does not fit the model, or the samples folder is missing. */
  | 'samples'
  /** Writing or renaming failed. */
  | 'write'
  /** Another deploy to the same drive is running (it holds the drive's lock). */
  | 'busy'
  /** The drive changed between the plan and the writes (another program wrote to it). */
  | 'changed'
  /** The drive went away during the deploy: unplugged, unmounted, moved or deleted. */
  | 'gone'
  /** The caller cancelled. */
  | 'cancelled';

export class DeployError extends CpmlError {
  readonly reason: DeployRefusal;
  /** Files already replaced on the drive when the deploy stopped (empty: the drive is as it was). */
  readonly replaced: readonly string[];
  constructor(reason: DeployRefusal, message: string, hint?: string, replaced: readonly string[] = []) {
    super(message, hint);
    this.reason = reason;
    this.replaced = replaced;
  }
}

/** Sizes as people read them on a drive: "812 B", "7.1 KB", "1.2 MB". */
export function formatSize(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs < 1024) return `${bytes} B`;
  if (abs < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Always in KB with one decimal, as the memory plan is reported everywhere. */
export const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
