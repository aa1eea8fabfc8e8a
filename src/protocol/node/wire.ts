/**
 * Conversions between engine values and their wire form (src/protocol/worker.ts), both directions,
 * so the worker and the client cannot drift apart.
 */
import { ResponseError } from 'vscode-jsonrpc';
import { CancelledError, LoupeError } from '../errors';
import type { ExplainResult, RgbaImage } from '../results';
import { LOUPE_ERROR_CODE, type WireExplainResult, type WorkerErrorData } from '../worker';

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function float32ToBase64(values: Float32Array): string {
  if (littleEndian) return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

export function base64ToFloat32(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0) throw new Error(`a float32 array cannot hold ${bytes.length} bytes`);
  const out = new Float32Array(bytes.length / 4);
  if (littleEndian) new Uint8Array(out.buffer).set(bytes); // copy: Buffer's pooled offset may be unaligned
  else for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

export function imageToWire(image: RgbaImage): WireExplainResult['image'] {
  const bytes = Buffer.alloc(image.data.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.max(0, Math.min(255, Math.round(image.data[i]!)));
  return { width: image.width, height: image.height, rgba: bytes.toString('base64') };
}

export function imageFromWire(wire: WireExplainResult['image']): RgbaImage {
  return { width: wire.width, height: wire.height, data: Float32Array.from(Buffer.from(wire.rgba, 'base64')) };
}

export function explainResultToWire(result: ExplainResult, written?: string[]): WireExplainResult {
  return {
    summary: result.summary,
    maps: result.maps.map((m) => ({
      summary: m.summary,
      data: float32ToBase64(m.data),
      ...(m.lowres ? { lowres: float32ToBase64(m.lowres) } : {}),
      display: float32ToBase64(m.display),
    })),
    image: imageToWire(result.image),
    ...(written ? { written } : {}),
  };
}

/** The engine's result plus the files the worker wrote, if it was asked to. */
export interface ClientExplainResult extends ExplainResult {
  written?: string[];
}

export function explainResultFromWire(wire: WireExplainResult): ClientExplainResult {
  return {
    summary: wire.summary,
    maps: wire.maps.map((m) => ({
      summary: m.summary,
      data: base64ToFloat32(m.data),
      ...(m.lowres !== undefined ? { lowres: base64ToFloat32(m.lowres) } : {}),
      display: base64ToFloat32(m.display),
    })),
    image: imageFromWire(wire.image),
    ...(wire.written ? { written: wire.written } : {}),
  };
}

/** LoupeError's message is `file: detail (hint)`; recover `detail` so the client can rebuild it exactly. */
function detailOf(err: LoupeError): string {
  let text = err.message;
  if (err.file && text.startsWith(`${err.file}: `)) text = text.slice(err.file.length + 2);
  if (err.hint && text.endsWith(` (${err.hint})`)) text = text.slice(0, -(err.hint.length + 3));
  return text;
}

/** Any failure as an error reply. Non-Loupe errors are bugs: they keep their message and become BACKEND. */
export function errorToWire(err: unknown): ResponseError<WorkerErrorData> {
  if (err instanceof LoupeError) {
    const data: WorkerErrorData = { code: err.code, detail: detailOf(err) };
    if (err.file !== undefined) data.file = err.file;
    if (err.hint !== undefined) data.hint = err.hint;
    return new ResponseError(LOUPE_ERROR_CODE, err.message, data);
  }
  const message = err instanceof Error ? err.message : String(err);
  const detail = `internal error in the Loupe worker: ${message}`;
  return new ResponseError(LOUPE_ERROR_CODE, detail, {
    code: 'BACKEND',
    detail,
    hint: 'this is a bug in Loupe; the worker log has the stack trace',
  });
}

function isErrorData(data: unknown): data is WorkerErrorData {
  return typeof data === 'object' && data !== null
    && typeof (data as WorkerErrorData).code === 'string' && typeof (data as WorkerErrorData).detail === 'string';
}

/** Rebuilds the LoupeError a worker reply carries; other jsonrpc failures become a BACKEND LoupeError. */
export function errorFromWire(err: unknown): Error {
  if (err instanceof ResponseError && isErrorData(err.data)) {
    const d = err.data;
    if (d.code === 'CANCELLED') return new CancelledError();
    return new LoupeError(d.code, d.detail, d.file, d.hint);
  }
  if (err instanceof ResponseError) return new LoupeError('BACKEND', `the Loupe worker replied: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}
