/**
 * The `loupe.*` settings as one typed value. Pure (no `vscode` import) so it can be tested in Node:
 * the host passes a getter over `workspace.getConfiguration('loupe')`.
 * Invalid values fall back to the defaults and are reported in `problems`, never thrown:
 * a typo in settings.json must not break every command.
 */
import { BACKEND_PREFERENCES } from '../protocol/types';
import type { BackendPreference, DissectOptions, ExplainOptions, IgBaseline, MethodId, Preprocessing, ProbeSpec } from '../protocol/types';

export interface LoupeConfig {
  /** Workspace-relative or absolute path of the active model.json; '' when unset. */
  activeModel: string;
  topK: number;
  methods: MethodId[];
  smoothgrad: { samples: number; sigma: number };
  ig: { steps: number; baseline: IgBaseline };
  backend: BackendPreference;
  maxImagePixels: number;
  worker: { idleTimeoutSeconds: number };
  dissection: {
    /** Probe images: the built-in generator's count, or the most read from a dataset on disk. */
    probeImages: number;
    /** 'builtin', or the path (absolute or workspace-relative) of a Broden-format or folder-per-concept dataset. */
    probe: string;
    quantile: number;
    iouThreshold: number;
  };
  /** Per-model preprocessing overrides, keyed by model path as the user wrote it. */
  preprocessing: Record<string, Partial<Preprocessing>>;
  /** Feature visualisation ("Visualize Unit"): optimisation steps (Lucid: 512). */
  featureVis: { steps: number };
  /** Where exports default to (issue 12): relative to the image's workspace folder, or absolute. */
  exportFolder: string;
  // ── progressive Explain panel (issue 12) ──
  /** The model-randomisation sanity check: never, on a button (per card, and for all), or after every map is shown. */
  sanityCheck: SanityCheckMode;
  /** Explanations kept on disk (extension global storage), least recently used out. */
  cache: { maxMegabytes: number };
  /** Models the worker keeps loaded besides the active one. */
  keepModels: number;
  // ── end progressive Explain panel ──
  /** One line per ignored value: `loupe.topK: expected an integer ≥ 1, got "x"; using 5`. */
  problems: string[];
}

export type SanityCheckMode = 'off' | 'onDemand' | 'afterMaps';
export const SANITY_CHECK_MODES: readonly SanityCheckMode[] = ['off', 'onDemand', 'afterMaps'];

export const ALL_METHODS: readonly MethodId[] = [
  'gradient', 'gradxinput', 'smoothgrad', 'smoothgrad-sq', 'vargrad', 'ig', 'guided-backprop',
  'deconvnet', 'cam', 'gradcam', 'guided-gradcam', 'occlusion',
];
export const BACKENDS = BACKEND_PREFERENCES;
export const IG_BASELINES: readonly IgBaseline[] = ['black', 'blurred', 'uniform'];

export const DEFAULTS: Omit<LoupeConfig, 'problems'> = {
  activeModel: '',
  topK: 5,
  methods: ['gradient', 'smoothgrad', 'ig', 'guided-backprop', 'gradcam', 'guided-gradcam'],
  smoothgrad: { samples: 25, sigma: 0.15 },
  ig: { steps: 50, baseline: 'black' },
  backend: 'auto',
  maxImagePixels: 40_000_000,
  worker: { idleTimeoutSeconds: 300 },
  dissection: { probeImages: 1000, probe: 'builtin', quantile: 0.005, iouThreshold: 0.04 },
  preprocessing: {},
  featureVis: { steps: 512 },
  exportFolder: 'loupe-exports',
  sanityCheck: 'onDemand',
  cache: { maxMegabytes: 512 },
  keepModels: 1,
};

/** `get('smoothgrad.samples')` returns the raw setting value (undefined when unset). */
export type SettingGetter = (key: string) => unknown;

export function parseConfig(get: SettingGetter): LoupeConfig {
  const problems: string[] = [];
  const bad = (key: string, expected: string, value: unknown, fallback: unknown): void => {
    problems.push(`loupe.${key}: expected ${expected}, got ${JSON.stringify(value)}; using ${JSON.stringify(fallback)}`);
  };
  const int = (key: string, min: number, max: number, fallback: number): number => {
    const v = get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    bad(key, `an integer in [${min}, ${max}]`, v, fallback);
    return fallback;
  };
  const num = (key: string, min: number, max: number, fallback: number): number => {
    const v = get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max) return v;
    bad(key, `a number in [${min}, ${max}]`, v, fallback);
    return fallback;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    bad(key, `one of ${allowed.join(', ')}`, v, fallback);
    return fallback;
  };

  const probeRaw = get('dissection.probe');
  let probe = DEFAULTS.dissection.probe;
  if (typeof probeRaw === 'string' && probeRaw.trim()) probe = probeRaw.trim();
  else if (probeRaw !== undefined && probeRaw !== null) bad('dissection.probe', '"builtin" or the path of a dataset folder', probeRaw, probe);

  const activeRaw = get('activeModel');
  let activeModel = DEFAULTS.activeModel;
  if (typeof activeRaw === 'string') activeModel = activeRaw.trim();
  else if (activeRaw !== undefined && activeRaw !== null) bad('activeModel', 'a path', activeRaw, '');

  return {
    activeModel,
    topK: int('topK', 1, 1000, DEFAULTS.topK),
    methods: parseMethods(get('methods'), (v) => bad('methods', `a non-empty list of ${ALL_METHODS.join(', ')}`, v, DEFAULTS.methods), problems),
    smoothgrad: {
      samples: int('smoothgrad.samples', 1, 10_000, DEFAULTS.smoothgrad.samples),
      sigma: num('smoothgrad.sigma', 0, 10, DEFAULTS.smoothgrad.sigma),
    },
    ig: {
      steps: int('ig.steps', 1, 10_000, DEFAULTS.ig.steps),
      baseline: oneOf('ig.baseline', IG_BASELINES, DEFAULTS.ig.baseline),
    },
    backend: oneOf('backend', BACKENDS, DEFAULTS.backend),
    maxImagePixels: int('maxImagePixels', 1, Number.MAX_SAFE_INTEGER, DEFAULTS.maxImagePixels),
    worker: { idleTimeoutSeconds: int('worker.idleTimeoutSeconds', 0, 86_400 * 7, DEFAULTS.worker.idleTimeoutSeconds) },
    dissection: {
      probeImages: int('dissection.probeImages', 1, 1_000_000, DEFAULTS.dissection.probeImages),
      probe,
      // A quantile of 0 would leave every mask empty; above 0.5 a "top" quantile covers most of the map.
      quantile: num('dissection.quantile', 1e-6, 0.5, DEFAULTS.dissection.quantile),
      iouThreshold: num('dissection.iouThreshold', 0, 1, DEFAULTS.dissection.iouThreshold),
    },
    preprocessing: parsePreprocessing(get('preprocessing'), problems),
    featureVis: { steps: int('featureVis.steps', 1, 100_000, DEFAULTS.featureVis.steps) },
    exportFolder: parseExportFolder(get('exportFolder'), bad),
    sanityCheck: oneOf('sanityCheck', SANITY_CHECK_MODES, DEFAULTS.sanityCheck),
    cache: { maxMegabytes: int('cache.maxMegabytes', 0, 1_000_000, DEFAULTS.cache.maxMegabytes) },
    keepModels: int('worker.keepModels', 0, 16, DEFAULTS.keepModels),
    problems,
  };
}

function parseExportFolder(v: unknown, bad: (key: string, expected: string, got: unknown, using: unknown) => void): string {
  if (typeof v === 'string' && v.trim()) return v.trim();
  if (v !== undefined && v !== null) bad('exportFolder', 'a folder path', v, DEFAULTS.exportFolder);
  return DEFAULTS.exportFolder;
}

function parseMethods(v: unknown, onBad: (v: unknown) => void, problems: string[]): MethodId[] {
  if (v === undefined || v === null) return [...DEFAULTS.methods];
  if (!Array.isArray(v)) {
    onBad(v);
    return [...DEFAULTS.methods];
  }
  const known = v.filter((m): m is MethodId => typeof m === 'string' && (ALL_METHODS as readonly string[]).includes(m));
  const unknown = v.filter((m) => !known.includes(m as MethodId));
  if (unknown.length) problems.push(`loupe.methods: ignoring unknown ${unknown.map((m) => JSON.stringify(m)).join(', ')}`);
  const unique = [...new Set(known)];
  if (unique.length === 0) {
    onBad(v);
    return [...DEFAULTS.methods];
  }
  return unique;
}

const PREPROCESSING_KEYS = ['range', 'mean', 'std', 'channels'];
const REFUSED = "refused: the model's own value applies";

/** Every malformed key is named in `problems` (shown as an error, not only logged: see loupeContext). */
function parsePreprocessing(v: unknown, problems: string[]): Record<string, Partial<Preprocessing>> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    problems.push(`loupe.preprocessing: expected an object keyed by model path, got ${JSON.stringify(v)}; refused`);
    return {};
  }
  const out: Record<string, Partial<Preprocessing>> = {};
  for (const [model, entry] of Object.entries(v as Record<string, unknown>)) {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`loupe.preprocessing["${model}"]: expected an object, got ${JSON.stringify(entry)}; refused`);
      continue;
    }
    const e = entry as Record<string, unknown>;
    const p: Partial<Preprocessing> = {};
    for (const key of Object.keys(e)) {
      if (!PREPROCESSING_KEYS.includes(key)) problems.push(`loupe.preprocessing["${model}"].${key}: unknown key (known: ${PREPROCESSING_KEYS.join(', ')}); refused`);
    }
    const numbers = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((n) => typeof n === 'number' && Number.isFinite(n));
    if (e.range !== undefined) {
      if (numbers(e.range) && e.range.length === 2 && e.range[0]! < e.range[1]!) p.range = [e.range[0]!, e.range[1]!];
      else problems.push(`loupe.preprocessing["${model}"].range: expected [min, max] with min < max, got ${JSON.stringify(e.range)}; ${REFUSED}`);
    }
    for (const key of ['mean', 'std'] as const) {
      if (e[key] === undefined) continue;
      const value = e[key];
      if (numbers(value) && (key === 'mean' || value.every((n) => n > 0))) p[key] = value;
      else problems.push(`loupe.preprocessing["${model}"].${key}: expected a list of ${key === 'std' ? 'positive ' : ''}numbers, got ${JSON.stringify(value)}; ${REFUSED}`);
    }
    if (e.channels !== undefined) {
      if (e.channels === 'rgb' || e.channels === 'bgr' || e.channels === 'gray') p.channels = e.channels;
      else problems.push(`loupe.preprocessing["${model}"].channels: expected rgb, bgr or gray, got ${JSON.stringify(e.channels)}; ${REFUSED}`);
    }
    out[model] = p;
  }
  return out;
}

/**
 * The ExplainOptions the settings ask for, with the caller's class / layer / methods on top.
 * Panels use this so a run from anywhere in the window honours the same settings.
 */
export function explainOptionsFrom(
  config: LoupeConfig,
  extra: { classIndex?: number; layer?: string; methods?: MethodId[] } = {},
): ExplainOptions {
  return {
    methods: extra.methods ?? [...config.methods],
    topK: config.topK,
    params: {
      samples: config.smoothgrad.samples,
      sigma: config.smoothgrad.sigma,
      steps: config.ig.steps,
      baseline: config.ig.baseline,
    },
    ...(extra.classIndex !== undefined ? { classIndex: extra.classIndex } : {}),
    ...(extra.layer !== undefined ? { layer: extra.layer } : {}),
  };
}

/** The override for `modelFsPath` among the `loupe.preprocessing` keys (absolute or workspace-relative). */
export function preprocessingFor(
  config: LoupeConfig,
  modelFsPath: string,
  resolve: (key: string) => string,
): Partial<Preprocessing> | undefined {
  for (const [key, value] of Object.entries(config.preprocessing)) {
    if (resolve(key) === modelFsPath) return value;
  }
  return undefined;
}

/**
 * The DissectOptions the settings ask for, for `layer`. `resolve` turns a workspace-relative dataset
 * path into an absolute one (the worker has no workspace).
 */
export function dissectOptionsFrom(config: LoupeConfig, layer: string, resolve: (p: string) => string, extra: { refresh?: boolean } = {}): DissectOptions {
  const { probe: where, probeImages, quantile, iouThreshold } = config.dissection;
  const probe: ProbeSpec = where === 'builtin'
    ? { kind: 'builtin', count: probeImages }
    : { kind: 'path', path: resolve(where), limit: probeImages };
  return { layer, probe, quantile, iouThreshold, ...(extra.refresh ? { refresh: true } : {}) };
}
