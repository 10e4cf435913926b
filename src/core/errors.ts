// Typed errors of the core. Every error a user can cause is a CpmlError: it carries a message
// that says what went wrong and, where there is one, how to fix it (`hint`). Anything else that
// escapes the core is a bug in this project, not a user mistake.
import { escapeControlsInMessage, MAX_MESSAGE_CHARS, quoted, safeName, truncate } from './text/untrustedText.js';

export interface NodeRef {
  /** ONNX node name (may be empty in hand-made graphs). */
  name: string;
  /** Position of the node in graph.node. */
  index: number;
  op: string;
}

export function describeNode(node: NodeRef): string {
  const name = node.name ? `${quoted(node.name)} ` : '';
  return `node ${name}(#${node.index}, ${safeName(node.op, 60)})`;
}

export class CpmlError extends Error {
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }

  /** Message plus hint, as one paragraph for a user. */
  get userMessage(): string {
    return this.hint ? `${this.message}. ${this.hint}` : this.message;
  }
}

/** The file is not a readable ONNX model (empty, truncated, corrupt, not protobuf). */
export class OnnxReadError extends CpmlError {}

/** The model is valid ONNX but cannot be expressed as a cnn_helper blob. */
export class UnsupportedModelError extends CpmlError {
  readonly node?: NodeRef;
  constructor(message: string, options: { node?: NodeRef; hint?: string } = {}) {
    super(options.node ? `${describeNode(options.node)}: ${message}` : message, options.hint);
    this.node = options.node;
  }
}

/** A layer exceeds a limit of the firmware's record format or loops. */
export class FirmwareLimitError extends UnsupportedModelError {}

/** A blob that would make the firmware read outside the file or its buffers, or is malformed. */
export class BlobFormatError extends CpmlError {
  readonly layerIndex?: number;
  constructor(message: string, options: { layerIndex?: number; hint?: string } = {}) {
    super(options.layerIndex === undefined ? message : `layer ${options.layerIndex}: ${message}`, options.hint);
    this.layerIndex = options.layerIndex;
  }
}

/**
 * An error the firmware itself raises (same Python type and message as cnn_helper),
 * e.g. ValueError("wrong input size").
 */
export class FirmwareError extends CpmlError {
  readonly pythonType: 'ValueError' | 'RuntimeError' | 'MemoryError' | 'OSError';
  constructor(pythonType: FirmwareError['pythonType'], message: string, hint?: string) {
    super(message, hint);
    this.pythonType = pythonType;
  }
}

/** The ONNX reference evaluator met something it cannot evaluate. */
export class EvaluationError extends CpmlError {}

/** A file could not be read or written (wraps the system error with the path). */
export class FileError extends CpmlError {
  readonly path: string;
  constructor(message: string, path: string, hint?: string) {
    super(message, hint);
    this.path = path;
  }
}

export function isCpmlError(error: unknown): error is CpmlError {
  return error instanceof CpmlError;
}

/** What formatUserError needs of an error: duck-typed, because each bundle has its own copy of the classes. */
export interface UserErrorLike {
  message: string;
  userMessage: string;
  hint?: string;
  pythonType?: string;
}

/**
 * The one wording of a user error, for the CLI's stderr, the extension's notifications and the
 * virtual Pico: what went wrong, then how to fix it; the firmware's own errors as the board raises
 * them. Control characters are escaped and the length is bounded, whatever the message quotes.
 * `sentence`: start with a capital letter (a notification, or after a full stop).
 */
export function formatUserError(error: UserErrorLike, options: { sentence?: boolean } = {}): string {
  let text = error.pythonType
    ? `the firmware raises ${error.pythonType}("${error.message}")${error.hint ? `: ${error.hint}` : ''}`
    : error.userMessage;
  if (options.sentence) text = text.charAt(0).toUpperCase() + text.slice(1);
  return truncate(escapeControlsInMessage(text), MAX_MESSAGE_CHARS);
}
