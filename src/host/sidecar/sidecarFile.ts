/**
 * Writing `loupe.json` beside a model (the engine reads it: src/engine/image/sidecar.ts): the common
 * preprocessings, the file's text, and an atomic write that never replaces an existing file unless
 * the caller says the user agreed. Pure Node (no `vscode`), tested against the engine's reader.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Preprocessing } from '../../protocol/types';

export const SIDECAR_NAME = 'loupe.json';
export const DEFAULT_LABELS_NAME = 'labels.txt';

export interface SidecarPreset {
  id: 'imagenet' | 'unit' | 'symmetric';
  label: string;
  detail: string;
  input: Pick<Preprocessing, 'range' | 'mean' | 'std'>;
  /** Presets with per-channel values fit colour models only. */
  colourOnly?: boolean;
}

/** The preprocessings most models use. ImageNet's are torchvision's transforms.Normalize values. */
export const SIDECAR_PRESETS: readonly SidecarPreset[] = [
  {
    id: 'imagenet', label: 'ImageNet mean/std (torchvision)', colourOnly: true,
    detail: 'range [0, 1], mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]: transforms.ToTensor() + Normalize, as torchvision\'s pretrained models',
    input: { range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  },
  {
    id: 'unit', label: '[0, 1]',
    detail: 'range [0, 1], no normalisation: transforms.ToTensor() alone',
    input: { range: [0, 1], mean: [0], std: [1] },
  },
  {
    id: 'symmetric', label: '[-1, 1]',
    detail: 'range [-1, 1]: ToTensor() + Normalize(0.5, 0.5), or Keras\' MobileNet preprocess_input',
    input: { range: [-1, 1], mean: [0], std: [1] },
  },
];

export interface SidecarContent {
  input: Partial<Preprocessing> & { size?: [number, number] };
  /** A labels file in the model's folder, or left out (labels.txt beside the model if any, else "class N"). */
  labels?: string;
}

/** The file's text: the keys the engine's reader knows, two-space JSON, a final newline. */
export function sidecarText(content: SidecarContent): string {
  const input: Record<string, unknown> = {};
  for (const key of ['size', 'range', 'mean', 'std', 'channels'] as const) {
    if (content.input[key] !== undefined) input[key] = content.input[key];
  }
  const json: Record<string, unknown> = { input };
  if (content.labels !== undefined) json.labels = content.labels;
  return `${JSON.stringify(json, null, 2)}\n`;
}

/**
 * `text` (an existing loupe.json) with `input.size` set, every other key kept. Throws when the text
 * is not a JSON object (the caller then asks before replacing the file).
 */
export function withSize(text: string, size: [number, number]): string {
  const json: unknown = JSON.parse(text);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('loupe.json does not hold a JSON object');
  const obj = json as Record<string, unknown>;
  const input = obj.input;
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) throw new Error('"input" in loupe.json is not an object');
  obj.input = { ...(input as Record<string, unknown> | undefined), size };
  return `${JSON.stringify(obj, null, 2)}\n`;
}

/** `"224, 224"` or `"224x224"` → [224, 224]; undefined when it is not two whole numbers from 1 to 16384. */
export function parseSize(text: string): [number, number] | undefined {
  const m = /^\s*(\d+)\s*(?:[,x×*]\s*|\s+)(\d+)\s*$/i.exec(text);
  if (!m) return undefined;
  const h = Number(m[1]);
  const w = Number(m[2]);
  return h >= 1 && w >= 1 && h <= 16384 && w <= 16384 ? [h, w] : undefined;
}

/** `"0.5, 0.5, 0.5"` → numbers; undefined unless 1 or `channels` finite numbers (and none zero when `nonZero`). */
export function parseNumbers(text: string, channels: number | undefined, nonZero = false): number[] | undefined {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (parts.length === 0) return undefined;
  const values = parts.map(Number);
  if (!values.every(Number.isFinite) || (nonZero && values.some((v) => v === 0))) return undefined;
  if (values.length !== 1 && channels !== undefined && values.length !== channels) return undefined;
  if (values.length !== 1 && channels === undefined && values.length !== 3) return undefined;
  return values;
}

export class SidecarExistsError extends Error {
  constructor(readonly file: string) {
    super(`${file} already exists`);
    this.name = 'SidecarExistsError';
  }
}

/**
 * Writes `text` to `file` atomically: a temporary file in the same folder, then a hard link (which
 * fails if `file` exists: nothing is replaced unless `overwrite`) or a rename (with `overwrite`).
 * Readers see the old file or the whole new one, never part of it. On file systems without hard
 * links, an exclusive create (`wx`) still refuses to replace.
 */
export async function writeSidecarFile(file: string, text: string, options: { overwrite: boolean }): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (options.overwrite) {
      await fs.rename(tmp, file);
      return;
    }
    try {
      await fs.link(tmp, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new SidecarExistsError(file);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
      await fs.writeFile(file, text, { encoding: 'utf8', flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'EEXIST' ? new SidecarExistsError(file) : e;
      });
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** Where a model's loupe.json is: beside the model file. */
export function sidecarPathOf(modelPath: string): string {
  return path.join(path.dirname(modelPath), SIDECAR_NAME);
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.stat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * What the Explain panel says when the model has no loupe.json: the defaults the engine used
 * (its reader's: range [0, 1], no mean/std, labels from labels.txt beside the model, else "class N").
 */
export function defaultsNote(modelFile: string, numClasses: number | undefined, hasLabelsFile: boolean, overridden: boolean): string {
  const labels = hasLabelsFile ? `labels from ${DEFAULT_LABELS_NAME}` : `labels "class 0"…"class ${Math.max(0, (numClasses ?? 1) - 1)}"`;
  const override = overridden ? ' (the loupe.preprocessing setting overrides part of it: see above)' : '';
  return `No ${SIDECAR_NAME} beside ${path.basename(modelFile)}: Loupe used range [0, 1], no normalisation (mean 0, std 1) and ${labels}${override}. If the model was trained otherwise, its maps and predictions are off.`;
}

/** Text files in the model's folder that could hold labels, with their number of non-empty lines. */
export async function labelFileCandidates(modelPath: string, maxBytes = 1_000_000): Promise<Array<{ name: string; lines: number }>> {
  const dir = path.dirname(modelPath);
  const out: Array<{ name: string; lines: number }> = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !/\.(txt|names|labels)$/i.test(entry.name)) continue;
    const stat = await fs.stat(path.join(dir, entry.name));
    if (stat.size > maxBytes) continue;
    const text = await fs.readFile(path.join(dir, entry.name), 'utf8');
    const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim());
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    out.push({ name: entry.name, lines: lines.length });
  }
  return out.sort((a, b) => Number(b.name === DEFAULT_LABELS_NAME) - Number(a.name === DEFAULT_LABELS_NAME) || a.name.localeCompare(b.name));
}
