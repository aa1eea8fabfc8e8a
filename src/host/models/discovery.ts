/**
 * Which files are models, decided from the file's name and its beginning, so that a workspace full of
 * unrelated model.json files (npm manifests, app configs) or `.h5` datasets costs one small read each.
 * Pure: the caller reads the bytes.
 */
import { modelFileKind, type ModelFileKind } from '../../protocol/formats';

/** Bytes read from a model.json to decide. TF.js writers put `modelTopology` (or `format`) first. */
export const SNIFF_BYTES = 64 * 1024;
/** Folders never searched for models. */
export const MODEL_EXCLUDE_GLOB = '**/{node_modules,.git,.venv,venv,__pycache__,site-packages}/**';
/** Every file name a model (or a checkpoint Loupe explains how to export) can have (protocol/formats.ts). */
export const MODEL_GLOB = '**/{model.json,*.onnx,*.keras,*.h5,*.hdf5,*.pt,*.pth,*.ckpt}';

const EXCLUDED_SEGMENTS = new Set(['node_modules', '.git', '.venv', 'venv', '__pycache__', 'site-packages']);

/** True when no folder of the (workspace-relative or absolute) path is one Loupe never searches. */
export function isSearchablePath(filePath: string): boolean {
  return !filePath.split(/[\\/]/).some((segment) => EXCLUDED_SEGMENTS.has(segment));
}

export type SniffResult = 'model' | 'not-model' | 'unsure';

/**
 * Looks at the first bytes of a model.json: a JSON object with a `modelTopology` key is a TF.js model
 * (layers or graph). `complete` says whether `head` is the whole file: if it is not and the key was
 * not seen, the answer is 'unsure' (the caller may read the rest).
 */
export function sniffModelJson(head: string, complete: boolean): SniffResult {
  const text = head.replace(/^\uFEFF/, '').trimStart();
  if (!text.startsWith('{')) return 'not-model';
  if (/"modelTopology"\s*:/.test(text)) return 'model';
  return complete ? 'not-model' : 'unsure';
}

/** Full check for files the sniff could not decide: parse and look for an object `modelTopology`. */
export function isModelJsonText(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
    const topology = (value as Record<string, unknown>).modelTopology;
    return !!topology && typeof topology === 'object';
  } catch {
    return false;
  }
}

/**
 * Decides from a file's first bytes (`head`; `complete` when that is the whole file) whether it is a
 * model of the kind its name says. A model.json needs `modelTopology`; an ONNX file starts with a
 * protobuf field of ModelProto; a `.keras` file is a zip and an `.h5` file HDF5. Checkpoints are
 * listed whatever they hold: Loupe only tells how to export them.
 */
export function sniffModelFile(file: string, head: Uint8Array, complete: boolean): SniffResult {
  const kind = modelFileKind(file);
  switch (kind) {
    case 'tfjs':
      return sniffModelJson(Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('utf8'), complete);
    case 'onnx':
      // ModelProto's fields are numbered 1–20: the first key byte is (field << 3 | wire type).
      return head.length > 0 && (head[0]! >> 3) >= 1 && (head[0]! >> 3) <= 20 ? 'model' : 'not-model';
    case 'keras':
      return startsWith(head, ZIP_MAGIC) || startsWith(head, HDF5_MAGIC) ? 'model' : 'not-model';
    case 'checkpoint':
      return 'model';
    default:
      return 'not-model';
  }
}

export { modelFileKind, type ModelFileKind };

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(head: Uint8Array, magic: number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

/**
 * Which model becomes active: the configured one when it was found, else the one remembered for this
 * workspace, else the first found (paths sorted, so the choice is stable).
 */
export function chooseActive(found: readonly string[], configured: string | undefined, remembered: string | undefined): string | undefined {
  if (configured && found.includes(configured)) return configured;
  if (remembered && found.includes(remembered)) return remembered;
  return [...found].sort()[0];
}
