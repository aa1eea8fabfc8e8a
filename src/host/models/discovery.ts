/**
 * Which `model.json` files are TF.js models, decided from the file's beginning so that a workspace
 * full of unrelated model.json files (npm manifests, app configs) costs one small read each.
 * Pure: the caller reads the bytes.
 */

/** Bytes read from a model.json to decide. TF.js writers put `modelTopology` (or `format`) first. */
export const SNIFF_BYTES = 64 * 1024;
/** Folders never searched for models. */
export const MODEL_EXCLUDE_GLOB = '**/{node_modules,.git,.venv,venv,__pycache__,site-packages}/**';
export const MODEL_GLOB = '**/model.json';

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
 * Which model becomes active: the configured one when it was found, else the one remembered for this
 * workspace, else the first found (paths sorted, so the choice is stable).
 */
export function chooseActive(found: readonly string[], configured: string | undefined, remembered: string | undefined): string | undefined {
  if (configured && found.includes(configured)) return configured;
  if (remembered && found.includes(remembered)) return remembered;
  return [...found].sort()[0];
}
