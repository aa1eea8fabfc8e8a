/** Error kinds the engine reports; the worker forwards them to callers unchanged. */
export type LoupeErrorCode =
  | 'MODEL_NOT_FOUND'
  | 'MODEL_INVALID'
  | 'WEIGHTS_INVALID'
  | 'UNSUPPORTED_MODEL'
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_INVALID'
  | 'IMAGE_TOO_LARGE'
  | 'SIDECAR_INVALID'
  | 'BAD_REQUEST'
  | 'CANCELLED'
  | 'BACKEND';

/**
 * A failure the user can act on: what is wrong, in which file, and what to do.
 * Everything else that escapes the engine is a bug.
 */
export class LoupeError extends Error {
  constructor(
    readonly code: LoupeErrorCode,
    message: string,
    readonly file?: string,
    readonly hint?: string,
  ) {
    super(file ? `${file}: ${message}${hint ? ` (${hint})` : ''}` : `${message}${hint ? ` (${hint})` : ''}`);
    this.name = 'LoupeError';
  }
}

export class CancelledError extends LoupeError {
  constructor() {
    super('CANCELLED', 'the analysis was cancelled');
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
