/**
 * The Building Blocks of Interpretability (Olah et al., Distill 2018) on one image and one layer: the JSON
 * shapes the engine, worker, host, webview and CLI share. Arrays of numbers are row-major.
 */
import type { BackendName, Prediction, Preprocessing } from './types';

export interface BlocksOptions {
  /** Layer with an H×W×C output. */
  layer: string;
  /** NMF neuron groups (default 6). */
  groups?: number;
  /** Class whose logit the attributions explain (default: the top prediction). */
  classIndex?: number;
  /** When set, attributions explain logit(classIndex) − logit(versusClass) (Lucid's AttrChannel). */
  versusClass?: number;
  /** A later layer: spatial attribution layer → that layer, one backward pass per position of it (Lucid's AttrSpatial). */
  toLayer?: string;
  /** Path-integrated channel attribution: N scaled copies of the activations (Lucid: 100, left Riemann sum). */
  pathSteps?: number;
  /** Channels listed per position in the semantic dictionary (Lucid: 4). */
  dictionaryTop?: number;
  /** Over the model's loupe.json "input". */
  preprocessing?: Partial<Preprocessing>;
}

/** One position of the semantic dictionary: its strongest channels, strongest first. */
export interface DictionaryEntry {
  y: number;
  x: number;
  channels: number[];
  values: number[];
}

export interface BlocksResult {
  model: string;
  image: string;
  layer: string;
  /** The layer's [H, W, C]. */
  layerShape: [number, number, number];
  inputShape: [number, number, number];
  predictions: Prediction[];
  classIndex: number;
  versusClass?: number;
  /** What the attributions explain, e.g. "logit(cat) − logit(dog)". */
  score: string;
  /** Where the dictionary starts: the position with the largest activation (Lucid's notebook). */
  start: { y: number; x: number };
  dictionary: DictionaryEntry[];
  /** Per position (H×W) the largest activation over channels, for a heat map. */
  maxActivation: number[];
  spatial: {
    /** Σ_c act·grad of the score, per position (H×W). */
    toClass: number[];
    /** Layer → later layer: per position of the later layer (H₂×W₂ rows), Σ_c act·grad of ‖acts₂[y, x]‖ at each position of this layer (H×W). */
    toLayer?: { layer: string; shape: [number, number, number]; maps: number[][] };
  };
  channel: {
    /** Σ_{y,x} act·grad per channel. */
    simple: number[];
    /** Path-integrated: Σ_n act·grad(n/N · act) / N per channel. */
    integrated: number[];
    pathSteps: number;
    /** Σ_c integrated against score(acts) − score(0 · acts): the path's completeness. */
    integratedSum: number;
    scoreDifference: number;
  };
  groups: {
    k: number;
    /** K × H × W spatial factors, groups ordered by the column of their peak (Lucid's notebook). */
    spatial: number[][];
    /** K × C channel factors. */
    channels: number[][];
    /** Σ (spatial_k ⊗ channel_k) · grad: each group's attribution to the score. */
    attribution: number[];
    /** ‖A − WH‖_F / ‖A‖_F of the factorisation. */
    relativeError: number;
    iterations: number;
  };
  /** The image as the model sees it (resized, before normalisation): RGBA bytes, base64. */
  picture: { width: number; height: number; rgba: string };
  backend: BackendName;
  ms: number;
  notes: string[];
}

/** The activation grid: one direction feature visualisation per position (Lucid's "less naive" recipe). */
export interface ActivationGridOptions extends BlocksOptions {
  /** Side of each cell image (Lucid's notebook: 42). */
  cellSize?: number;
  /** Optimisation steps (notebook: 256). */
  steps?: number;
  /** Positions optimised per step (notebook: 64). */
  positionsPerStep?: number;
  seed?: number;
}

export interface ActivationGridResult {
  layer: string;
  /** Grid of H × W cells. */
  rows: number;
  cols: number;
  cellSize: number;
  steps: number;
  /** PNG of the whole grid, base64. */
  png: string;
  ms: number;
  backend: BackendName;
  notes: string[];
  /** The objective (Σ over the step's positions of acts · their target vector) after each step. */
  values: number[];
}
