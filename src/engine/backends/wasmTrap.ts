/**
 * A trap inside a WebAssembly kernel (out-of-bounds access, `unreachable`, Emscripten's abort) leaves the
 * module's memory in an unknown state: every later result of this process could be wrong. The worker
 * answers the request that trapped, then exits, and the client starts a fresh worker for the next one.
 */
export function isWasmTrap(err: unknown): boolean {
  // The lib typings in use do not declare WebAssembly's values; Node has it.
  const runtimeError = (globalThis as { WebAssembly?: { RuntimeError?: new () => Error } }).WebAssembly?.RuntimeError;
  if (runtimeError && err instanceof runtimeError) return true;
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return /RuntimeError: (memory access out of bounds|unreachable|divide by zero|integer overflow|table index)|\bAborted\(/.test(message);
}
