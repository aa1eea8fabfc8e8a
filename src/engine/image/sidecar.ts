import * as path from 'node:path';
import type { Preprocessing } from '../../protocol/types';
import { LoupeError } from '../../protocol/errors';
import { readUntrustedIfExists, resolveInside, type UntrustedRead } from '../io/untrusted';

/** Name of the optional file beside model.json that says how to feed the model and name its classes. */
export const SIDECAR_NAME = 'loupe.json';
/** Labels file looked for beside model.json when the sidecar names none. */
export const DEFAULT_LABELS_NAME = 'labels.txt';

/**
 * What Loupe assumes without a sidecar: pixels scaled to [0, 1], no mean/std normalisation,
 * channels from the model's input (1 → 'gray', 3 → 'rgb'). `channels` here is the 3-channel
 * default; use defaultPreprocessing(C) for the value matching a model.
 */
export const DEFAULT_PREPROCESSING: Readonly<Preprocessing> = Object.freeze({
  range: [0, 1] as [number, number],
  mean: [0],
  std: [1],
  channels: 'rgb' as const,
});

export function defaultPreprocessing(channels: number): Preprocessing {
  return {
    range: [...DEFAULT_PREPROCESSING.range],
    mean: [...DEFAULT_PREPROCESSING.mean],
    std: [...DEFAULT_PREPROCESSING.std],
    channels: channels === 1 ? 'gray' : 'rgb',
  };
}

export interface SidecarResult {
  preprocessing: Preprocessing;
  labels: string[];
  /** The loupe.json read, when there was one. */
  sidecarFile?: string;
}

const TOP_KEYS = ['input', 'labels'];
const INPUT_KEYS = ['range', 'mean', 'std', 'channels'];
const EXAMPLE =
  'e.g. {"input": {"range": [0, 1], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "channels": "rgb"}, "labels": "labels.txt"}';

/**
 * Reads `loupe.json` beside model.json (optional):
 *   {"input": {"range": [min, max], "mean": [...], "std": [...], "channels": "rgb"|"bgr"|"gray"},
 *    "labels": "labels.txt" | ["cat", "dog", ...]}
 * Every key is optional (see DEFAULT_PREPROCESSING); labels default to labels.txt beside the
 * model, else "class 0", "class 1", … Anything malformed is a SIDECAR_INVALID error naming the file.
 */
export async function readSidecar(
  modelJsonPath: string,
  inputShape: [number, number, number],
  numClasses: number,
): Promise<SidecarResult> {
  const dir = path.dirname(path.resolve(modelJsonPath));
  const channels = inputShape[2];
  if (channels !== 1 && channels !== 3) {
    throw new LoupeError(
      'UNSUPPORTED_MODEL',
      `the model takes ${channels}-channel input; Loupe feeds images as gray (1 channel) or colour (3 channels)`,
      modelJsonPath,
      'use a model whose input is H×W×1 or H×W×3',
    );
  }
  const sidecarFile = path.join(dir, SIDECAR_NAME);
  const text = await readIfExists(sidecarFile);
  const preprocessing = defaultPreprocessing(channels);
  if (text === undefined) {
    return { preprocessing, labels: await defaultLabels(dir, numClasses) };
  }

  const bad = (problem: string, hint = EXAMPLE): LoupeError => new LoupeError('SIDECAR_INVALID', problem, sidecarFile, hint);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw bad(`not valid JSON: ${(err as Error).message}`, 'fix the JSON syntax');
  }
  if (!isObject(json)) throw bad('must hold a JSON object');
  checkKeys(json, TOP_KEYS, '', bad);

  if (json.input !== undefined) Object.assign(preprocessing, parseInput(json.input, preprocessing, channels, 'input', bad, ['size']));

  let labels: string[];
  if (json.labels === undefined) {
    labels = await defaultLabels(dir, numClasses);
  } else if (Array.isArray(json.labels)) {
    if (!json.labels.every((l) => typeof l === 'string')) throw bad('"labels" must be a file name or an array of strings');
    labels = json.labels as string[];
    if (labels.length !== numClasses) {
      throw bad(`"labels" lists ${labels.length} names but the model has ${numClasses} classes`, `give exactly ${numClasses} names`);
    }
  } else if (typeof json.labels === 'string') {
    labels = await labelsFromFile(dir, json.labels, numClasses, bad);
  } else {
    throw bad('"labels" must be a file name or an array of strings', 'e.g. "labels": "labels.txt"');
  }
  return { preprocessing, labels, sidecarFile };
}

type Bad = (problem: string, hint?: string) => LoupeError;

/**
 * The input size loupe.json gives (`"input": {"size": [H, W]}`), for models whose file leaves it symbolic
 * (ONNX dynamic axes). Read before the model is built, so apart from the rest of the sidecar.
 */
export function readSidecarSize(modelPath: string): [number, number] | undefined {
  const file = path.join(path.dirname(path.resolve(modelPath)), SIDECAR_NAME);
  const bytes = readUntrustedIfExists(file, { inside: path.dirname(file), maxBytes: MAX_SIDECAR_BYTES, what: 'loupe.json', invalidCode: 'SIDECAR_INVALID' });
  if (!bytes) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new LoupeError('SIDECAR_INVALID', `not valid JSON: ${(err as Error).message}`, file, 'fix the JSON syntax');
  }
  const size = isObject(json) && isObject(json.input) ? json.input.size : undefined;
  if (size === undefined) return undefined;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 1 && v <= MAX_SIDE)) {
    throw new LoupeError('SIDECAR_INVALID', `"input.size" must be [height, width] in pixels (integers 1–${MAX_SIDE}), got ${JSON.stringify(size)}`, file,
      'e.g. "size": [224, 224]');
  }
  return [size[0], size[1]];
}

const MAX_SIDECAR_BYTES = 1024 * 1024;
/** Sides beyond this would make every activation of a CNN larger than memory. */
const MAX_SIDE = 4096;

/**
 * The caller's preprocessing (the `loupe.preprocessing` setting) over the model's: the same keys and
 * checks as the sidecar's "input", any of them left out keeps the model's value. Untrusted: a
 * BAD_REQUEST error says which key is wrong.
 */
export function overridePreprocessing(base: Preprocessing, override: unknown, channels: number): Preprocessing {
  const bad: Bad = (problem, hint) => new LoupeError('BAD_REQUEST', `preprocessing override: ${problem}`, undefined, hint);
  return parseInput(override, base, channels, 'preprocessing', bad);
}

/** `base` with the keys `input` sets (range, mean, std, channels), each checked against the model's channel count. */
function parseInput(input: unknown, base: Preprocessing, channels: number, where: string, bad: Bad, extraKeys: string[] = []): Preprocessing {
  const out: Preprocessing = { range: [...base.range], mean: [...base.mean], std: [...base.std], channels: base.channels };
  if (!isObject(input)) throw bad(`"${where}" must be an object`);
  checkKeys(input, [...INPUT_KEYS, ...extraKeys], `${where}.`, bad);
  if (input.range !== undefined) {
    const r = input.range;
    if (!Array.isArray(r) || r.length !== 2 || !r.every(isFiniteNumber)) {
      throw bad(`"${where}.range" must be two numbers [min, max]`, 'e.g. "range": [0, 1] or [-1, 1] or [0, 255]');
    }
    const [min, max] = r as [number, number];
    if (!(min < max)) throw bad(`"${where}.range" must have min < max, got [${min}, ${max}]`, 'e.g. "range": [0, 1]');
    out.range = [min, max];
  }
  if (input.mean !== undefined) out.mean = numberList(input.mean, `${where}.mean`, channels, bad);
  if (input.std !== undefined) {
    const std = numberList(input.std, `${where}.std`, channels, bad);
    if (std.some((v) => v === 0)) throw bad(`"${where}.std" must not contain 0 (it divides)`, 'use 1 for no scaling');
    out.std = std;
  }
  if (input.channels !== undefined) {
    const c = input.channels;
    if (c !== 'rgb' && c !== 'bgr' && c !== 'gray') {
      throw bad(`"${where}.channels" must be "rgb", "bgr" or "gray", got ${JSON.stringify(c)}`, 'e.g. "channels": "rgb"');
    }
    if ((c === 'gray') !== (channels === 1)) {
      throw bad(
        `"${where}.channels" is "${c}" but the model input has ${channels} channel${channels === 1 ? '' : 's'}`,
        channels === 1 ? 'use "gray"' : 'use "rgb" or "bgr"',
      );
    }
    out.channels = c;
  }
  return out;
}

function numberList(v: unknown, name: string, channels: number, bad: Bad): number[] {
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every(isFiniteNumber)) {
    throw bad(`"${name}" must be a list of numbers`, `give 1 or ${channels} numbers`);
  }
  if (list.length !== 1 && list.length !== channels) {
    throw bad(`"${name}" has ${list.length} values but the model input has ${channels} channels`, `give 1 or ${channels} numbers`);
  }
  return list as number[];
}

async function labelsFromFile(dir: string, name: string, numClasses: number, bad: Bad): Promise<string[]> {
  const file = path.resolve(dir, name);
  const rel = path.relative(dir, file);
  if (name === '' || rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw bad(`"labels" points outside the model folder: ${JSON.stringify(name)}`, 'put the labels file beside model.json');
  }
  try {
    resolveInside(name, dir, { invalidCode: 'SIDECAR_INVALID' });
  } catch {
    // A symlink inside the folder that leads out of it.
    throw bad(`"labels" points outside the model folder: ${JSON.stringify(name)}`, 'put the labels file beside model.json');
  }
  const bytes = readUntrustedIfExists(name, labelsRead(dir));
  if (bytes === undefined) throw bad(`the labels file ${JSON.stringify(name)} does not exist`, 'create it or fix the name');
  return parseLabels(bytes.toString('utf8'), file, numClasses);
}

async function defaultLabels(dir: string, numClasses: number): Promise<string[]> {
  const file = path.join(dir, DEFAULT_LABELS_NAME);
  const bytes = readUntrustedIfExists(DEFAULT_LABELS_NAME, labelsRead(dir));
  if (bytes === undefined) return Array.from({ length: numClasses }, (_, i) => `class ${i}`);
  return parseLabels(bytes.toString('utf8'), file, numClasses);
}

/** A labels file: inside the model's folder after symlinks, a regular file, at most MAX_LABELS_BYTES. */
function labelsRead(dir: string): UntrustedRead {
  return { inside: dir, maxBytes: MAX_LABELS_BYTES, what: 'labels file', missingCode: 'SIDECAR_INVALID', invalidCode: 'SIDECAR_INVALID',
    missingHint: 'check its permissions' };
}

/** 100,000 classes of 160 bytes each. */
const MAX_LABELS_BYTES = 16 * 1024 * 1024;

/** One label per line; CRLF and trailing blank lines are fine, a blank label in between is not. */
function parseLabels(text: string, file: string, numClasses: number): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const blank = lines.indexOf('');
  if (blank >= 0) {
    throw new LoupeError('SIDECAR_INVALID', `line ${blank + 1} is empty`, file, 'write one class name per line');
  }
  if (lines.length !== numClasses) {
    throw new LoupeError(
      'SIDECAR_INVALID',
      `has ${lines.length} labels but the model has ${numClasses} classes`,
      file,
      `write exactly ${numClasses} lines, one class name each, in class-index order`,
    );
  }
  return lines;
}

function checkKeys(obj: Record<string, unknown>, known: string[], prefix: string, bad: Bad): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw bad(`unknown key "${prefix}${key}"`, `known keys: ${known.map((k) => prefix + k).join(', ')}`);
    }
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  return readUntrustedIfExists(file, {
    inside: path.dirname(file), maxBytes: MAX_SIDECAR_BYTES, what: 'loupe.json', missingCode: 'SIDECAR_INVALID', invalidCode: 'SIDECAR_INVALID',
    missingHint: 'check its permissions',
  })?.toString('utf8');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
