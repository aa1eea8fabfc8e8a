/**
 * TCAV (Kim et al., ICML 2018) as every room sees it: the request's options and the result.
 * Plain JSON-serialisable shapes only (no NaN: a p-value the test cannot give is null).
 */
import type { BackendName, Preprocessing } from './types';

/** How a concept activation vector is fitted (concept vs one random set, on flattened activations). */
export const TCAV_CAV_KINDS = ['logistic', 'sgd', 'mean'] as const;
export type TcavCavKind = (typeof TCAV_CAV_KINDS)[number];

/**
 * A concept's images. `folder`: PNG/JPEG files of one concept (dissection's concept-folder format:
 * `<name>.png` with optional `<name>.mask.png`, masks ignored), or a folder of such concept folders
 * (each sub-folder one concept). `builtin`: generated whole images of a probe colour, texture or shape
 * (`red`, `horizontal stripes`, `circle`, …), or `random`: the built-in random scenes, a control that
 * should not be significant.
 */
export type TcavConceptSpec = { kind: 'folder'; path: string } | { kind: 'builtin'; name: string };

/**
 * Where random sets come from. `folder`: a flat folder of varied images (sets are drawn from it), or a
 * folder of sub-folders (each sub-folder one random set, used as given). `builtin`: random probe scenes.
 */
export type TcavRandomSpec = { kind: 'folder'; path: string } | { kind: 'builtin' };

export interface TcavOptions {
  /** Class whose logit is explained. */
  classIndex: number;
  /** Folder of images of that class. */
  classImages: string;
  concepts: TcavConceptSpec[];
  /** Default: built-in random scenes. */
  random?: TcavRandomSpec;
  /** Layers whose activations the CAVs live in (spatial or dense). */
  layers: string[];
  /** Random runs N: N concept-vs-random CAVs per concept and N random-vs-random CAVs per layer (default 20). */
  runs?: number;
  /** Images per set K: each CAV's two sets are truncated to the same size, at most this (default 50). */
  imagesPerSet?: number;
  /** Built-in random images the random sets are drawn from (default 4 × imagesPerSet). */
  randomImages?: number;
  /** Default logistic (L2-regularised logistic regression, C = 1). */
  cav?: TcavCavKind;
  /** Family-wise significance level, Bonferroni-corrected over concepts × layers (default 0.05). */
  alpha?: number;
  /** A concept whose mean held-out CAV accuracy is below this is flagged (default 0.6). */
  minCavAccuracy?: number;
  /** Seed of every draw: same seed, same CAVs, scores and p-values (default 0). */
  seed?: number;
  /** Ignore a cached result and recompute. */
  refresh?: boolean;
  /** Over the model's loupe.json "input", as for ExplainOptions; part of the cache key. */
  preprocessing?: Partial<Preprocessing>;
}

/** One CAV: its held-out accuracy and the TCAV scores of the class images along it. */
export interface TcavRun {
  /** Held-out accuracy (1/3 of the images, stratified) of the linear classifier. */
  cavAccuracy: number;
  /** Fraction of class images whose directional derivative of the class logit along the CAV is > 0. */
  score: number;
  /** Captum's magnitude score: Σ positive derivatives / Σ |derivatives|. */
  magnitude: number;
}

export interface TcavSummaryStats {
  mean: number;
  /** Sample standard deviation over the runs (n − 1). */
  std: number;
  magnitude: number;
  cavAccuracy: number;
}

export interface TcavConceptResult extends TcavSummaryStats {
  /** Display name: the folder's name, or the built-in concept's name. */
  concept: string;
  /** `builtin:red` or the folder's path. */
  source: string;
  /** Images the concept's sets are drawn from. */
  images: number;
  runs: TcavRun[];
  /** Two-sided Student t-test (pooled variance) of the runs' scores against the random runs'; null when undefined (no variance). */
  pValue: number | null;
  /** pValue < the Bonferroni-corrected level. */
  significant: boolean;
  /** The mean CAV accuracy is below minCavAccuracy: the layer does not separate the concept from random images. */
  lowAccuracy: boolean;
}

export interface TcavLayerResult {
  layer: string;
  /** The layer's output shape (without the batch). */
  shape: number[];
  /** Values per image the CAVs span (the product of `shape`). */
  dims: number;
  /** The N random-vs-random runs every concept of the layer is tested against. */
  random: TcavSummaryStats & { runs: TcavRun[] };
  concepts: TcavConceptResult[];
}

export interface TcavParams {
  runs: number;
  imagesPerSet: number;
  cav: TcavCavKind;
  alpha: number;
  /** Number of tests the correction is over: concepts × layers. */
  tests: number;
  /** alpha / tests. */
  correctedAlpha: number;
  minCavAccuracy: number;
  seed: number;
  /** What the directional derivative is taken of. */
  target: 'logit';
}

export interface TcavTimings {
  activations: number;
  gradients: number;
  cavs: number;
  statistics: number;
}

export interface TcavResult {
  model: string;
  classIndex: number;
  classLabel: string;
  classImages: { path: string; images: number };
  random: { source: string; images: number; sets: number; asGiven: boolean };
  layers: TcavLayerResult[];
  params: TcavParams;
  /** What the user should know about how the run went (caps, reused sets, …). */
  notes: string[];
  backend: BackendName;
  /** Milliseconds of the computation (for a cached result: of the run that stored it). */
  ms: number;
  /** When the result was computed (ms since the epoch): the latest result of a layer is the one shown beside the code. */
  created: number;
  timings: TcavTimings;
  /** Cache key of the entry: with the model, it finds the result again (panel restore). */
  key: string;
  /** Folder of the entry: result.json, tcav.csv, tcav.json, tcav.png. */
  dir: string;
  cached: boolean;
}

/** The built-in concepts by category, as the engine's probe generator draws them (pickers list these). */
export const TCAV_BUILTIN_CONCEPTS: Readonly<Record<'color' | 'texture' | 'shape' | 'control', readonly string[]>> = {
  color: ['black', 'blue', 'brown', 'green', 'grey', 'orange', 'pink', 'purple', 'red', 'white', 'yellow'],
  texture: ['horizontal stripes', 'vertical stripes', 'diagonal stripes', 'antidiagonal stripes', 'dots', 'checkerboard', 'zigzag', 'grid'],
  shape: ['circle', 'square', 'triangle', 'star', 'heart', 'cross', 'hexagon', 'diamond'],
  control: ['random'],
};

export const TCAV_CSV_HEADER = 'layer,concept,tcav_mean,tcav_std,p_value,significant,cav_accuracy';

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** tcav.csv: one row per layer and concept, in the result's order. */
export function tcavCsv(result: Pick<TcavResult, 'layers'>): string {
  const rows = result.layers.flatMap((l) => l.concepts.map((c) => [
    csvCell(l.layer), csvCell(c.concept), String(c.mean), String(c.std), c.pValue === null ? '' : String(c.pValue),
    String(c.significant), String(c.cavAccuracy),
  ].join(',')));
  return [TCAV_CSV_HEADER, ...rows].join('\n') + '\n';
}

/** `0.94*` (significant), `0.51 n.s.`; a flagged CAV adds `(CAV acc. 0.55)`. */
export function tcavScoreText(c: Pick<TcavConceptResult, 'mean' | 'significant' | 'lowAccuracy' | 'cavAccuracy'>): string {
  const score = `${c.mean.toFixed(2)}${c.significant ? '*' : ' n.s.'}`;
  return c.lowAccuracy ? `${score} (CAV acc. ${c.cavAccuracy.toFixed(2)})` : score;
}

/**
 * Default layers: up to three spread through the network (after a third, two thirds, and the last),
 * among the spatial layers that end a block (activations, convolutions with an activation; pooling
 * too when there are fewer than three of those), else among all spatial layers.
 */
export function defaultTcavLayers(layers: readonly { name: string; className: string; outputShape: number[]; activation?: string; isConv: boolean }[]): string[] {
  const spatial = layers.filter((l) => l.outputShape.length === 3 && l.className !== 'InputLayer');
  const activations = spatial.filter((l) => /relu|activation|elu|sigmoid|tanh/i.test(l.className) || (l.isConv && l.activation !== undefined && l.activation !== 'linear'));
  const ends = activations.length >= 3 ? activations : spatial.filter((l) => activations.includes(l) || /pool/i.test(l.className));
  const from = ends.length >= 3 ? ends : spatial;
  if (from.length <= 3) return from.map((l) => l.name);
  return [...new Set([1, 2, 3].map((k) => from[Math.round((k * from.length) / 3) - 1]!.name))];
}

/** The request a result answers (for Recompute): the same sets, layers and parameters. */
export function tcavRequestOf(r: TcavResult): TcavOptions {
  const concepts: TcavConceptSpec[] = r.layers[0]?.concepts.map((c) => (c.source.startsWith('builtin:')
    ? { kind: 'builtin' as const, name: c.source.slice('builtin:'.length) }
    : { kind: 'folder' as const, path: c.source })) ?? [];
  return {
    classIndex: r.classIndex, classImages: r.classImages.path, concepts,
    random: r.random.source === 'builtin' ? { kind: 'builtin' } : { kind: 'folder', path: r.random.source },
    layers: r.layers.map((l) => l.layer), runs: r.params.runs, imagesPerSet: r.params.imagesPerSet, cav: r.params.cav,
    alpha: r.params.alpha, minCavAccuracy: r.params.minCavAccuracy, seed: r.params.seed,
  };
}
