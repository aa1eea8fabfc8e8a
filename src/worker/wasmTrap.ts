import { LoupeError } from '../protocol/errors';

export { isWasmTrap } from '../engine/backends/wasmTrap';

/** Grace before exiting after a trap, so the error reply is written to the IPC channel first. */
const EXIT_AFTER_TRAP_MS = 200;

export function trapError(err: unknown, exit: () => void): LoupeError {
  setTimeout(exit, EXIT_AFTER_TRAP_MS).unref?.();
  return new LoupeError('BACKEND', `a WebAssembly kernel failed (${(err as Error)?.message ?? String(err)}); this worker restarts with a fresh backend`,
    undefined, 'if it happens again with this model, report it with the model file');
}
