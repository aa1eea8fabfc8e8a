/** TCAV's parameters, validated once: they arrive from untrusted callers (CLI flags, RPC, panels). */
import { TCAV_CAV_KINDS, type TcavCavKind, type TcavConceptSpec, type TcavOptions, type TcavRandomSpec } from '../../protocol/tcav';
import { LoupeError } from '../../protocol/errors';

/** tensorflow/tcav's and the paper's practice where one exists; see README "TCAV". */
export const TCAV_DEFAULTS = Object.freeze({
  runs: 20, imagesPerSet: 50, cav: 'logistic' as TcavCavKind, alpha: 0.05, minCavAccuracy: 0.6, seed: 0,
});
/** Built-in random images per image of a set, when randomImages is not given. */
export const RANDOM_POOL_FACTOR = 4;
const MAX_RUNS = 500;
const MAX_IMAGES_PER_SET = 1000;
const MAX_CONCEPTS = 64;
const MAX_LAYERS = 16;

export interface ResolvedTcavOptions {
  classIndex: number;
  classImages: string;
  concepts: TcavConceptSpec[];
  random: TcavRandomSpec;
  layers: string[];
  runs: number;
  imagesPerSet: number;
  randomImages: number;
  cav: TcavCavKind;
  alpha: number;
  minCavAccuracy: number;
  seed: number;
  refresh: boolean;
}

function bad(message: string, hint?: string): LoupeError {
  return new LoupeError('BAD_REQUEST', message, undefined, hint);
}

function integer(name: string, value: unknown, fallback: number, lo: number, hi: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
    throw bad(`${name} must be an integer from ${lo} to ${hi} (got ${JSON.stringify(value)})`);
  }
  return value;
}

function fraction(name: string, value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value >= 1) {
    throw bad(`${name} must be a number between 0 and 1 (got ${JSON.stringify(value)})`);
  }
  return value;
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 4096;
}

function concept(value: unknown, i: number): TcavConceptSpec {
  const c = value as Record<string, unknown> | null;
  if (c && c.kind === 'folder' && nonEmptyString(c.path)) return { kind: 'folder', path: c.path };
  if (c && c.kind === 'builtin' && nonEmptyString(c.name)) return { kind: 'builtin', name: c.name };
  throw bad(`concepts[${i}] must be {kind: 'folder', path} or {kind: 'builtin', name} (got ${JSON.stringify(value)?.slice(0, 200)})`);
}

function random(value: unknown): TcavRandomSpec {
  if (value === undefined || value === null) return { kind: 'builtin' };
  const r = value as Record<string, unknown>;
  if (r.kind === 'builtin') return { kind: 'builtin' };
  if (r.kind === 'folder' && nonEmptyString(r.path)) return { kind: 'folder', path: r.path };
  throw bad(`random must be {kind: 'builtin'} or {kind: 'folder', path} (got ${JSON.stringify(value)?.slice(0, 200)})`);
}

/** Checks shapes and ranges; the class index against the model, and the layers, are checked by the run. */
export function resolveTcavOptions(options: TcavOptions): ResolvedTcavOptions {
  if (typeof options !== 'object' || options === null) throw bad('options must be an object');
  if (typeof options.classIndex !== 'number' || !Number.isInteger(options.classIndex) || options.classIndex < 0) {
    throw bad(`classIndex must be a class index, a whole number ≥ 0 (got ${JSON.stringify(options.classIndex)})`);
  }
  if (!nonEmptyString(options.classImages)) throw bad('classImages must be the folder of the class\'s images');
  if (!Array.isArray(options.concepts) || options.concepts.length === 0 || options.concepts.length > MAX_CONCEPTS) {
    throw bad(`concepts must list 1 to ${MAX_CONCEPTS} concepts`, 'give concept folders or built-in concepts such as builtin:red');
  }
  if (!Array.isArray(options.layers) || options.layers.length === 0 || options.layers.length > MAX_LAYERS
    || !options.layers.every(nonEmptyString)) {
    throw bad(`layers must list 1 to ${MAX_LAYERS} layer names`);
  }
  const cav = options.cav ?? TCAV_DEFAULTS.cav;
  if (!(TCAV_CAV_KINDS as readonly unknown[]).includes(cav)) throw bad(`cav must be one of ${TCAV_CAV_KINDS.join(', ')} (got ${JSON.stringify(cav)})`);
  const runs = integer('runs', options.runs, TCAV_DEFAULTS.runs, 2, MAX_RUNS);
  const imagesPerSet = integer('imagesPerSet', options.imagesPerSet, TCAV_DEFAULTS.imagesPerSet, 2, MAX_IMAGES_PER_SET);
  return {
    classIndex: options.classIndex,
    classImages: options.classImages,
    concepts: options.concepts.map(concept),
    random: random(options.random),
    layers: [...new Set(options.layers)],
    runs,
    imagesPerSet,
    randomImages: integer('randomImages', options.randomImages, RANDOM_POOL_FACTOR * imagesPerSet, 2 * imagesPerSet, 100_000),
    cav,
    alpha: fraction('alpha', options.alpha, TCAV_DEFAULTS.alpha),
    minCavAccuracy: fraction('minCavAccuracy', options.minCavAccuracy, TCAV_DEFAULTS.minCavAccuracy),
    seed: integer('seed', options.seed, TCAV_DEFAULTS.seed, 0, 2 ** 31 - 1),
    refresh: options.refresh === true,
  };
}
