/**
 * Feature visualisation (Lucid's render_vis) and the Building Blocks of Interpretability: the JSON shapes
 * the engine, worker, host, webviews and CLI share.
 */
import type { BackendName, Preprocessing } from './types';

/** One of Lucid's stochastic transforms (lucid/optvis/transform.py), drawn once per step. */
export type FeatureVisTransform =
  | { kind: 'pad'; pixels: number; value: number }
  /** Random crop to size − pixels (offsets 0 … pixels). */
  | { kind: 'jitter'; pixels: number }
  /** Bilinear resize by a factor drawn from the list. */
  | { kind: 'scale'; factors: number[] }
  /** Bilinear rotation about the centre by an angle drawn from the list. */
  | { kind: 'rotate'; degrees: number[] };

/** A term of the objective, on one layer; `batch` restricts it to one image of the batch. */
export type FeatureVisTerm =
  /** mean over positions (and images) of the unit's activation (Lucid `channel`). */
  | { kind: 'channel'; layer: string; unit: number; weight?: number; batch?: number }
  /** the unit's activation at one position, default the centre (H//2, W//2) (Lucid `neuron`), summed over images. */
  | { kind: 'neuron'; layer: string; unit: number; y?: number; x?: number; weight?: number; batch?: number }
  /**
   * mean over positions of acts · vector (Lucid `direction`), or of the cosine between them ('cosine', Lucent's);
   * with `y`/`x` only at that position (Lucid `direction_neuron`).
   */
  | { kind: 'direction'; layer: string; vector: number[]; similarity?: 'dot' | 'cosine'; y?: number; x?: number; weight?: number; batch?: number }
  /** Σ_{i≠j} ⟨Ĝ_i, Ĝ_j⟩ / B over the batch's normalised Gram matrices (Lucid `diversity`); use a negative weight. */
  | { kind: 'diversity'; layer: string; weight?: number };

/** Every number of the recipe, Lucid's defaults in FEATURE_VIS_DEFAULTS (src/engine/featureVis/options.ts). */
export interface FeatureVisParams {
  steps: number;
  /** Image side in pixels (default 128, or the model's input when it is smaller). */
  size: number;
  /** Images optimised together (diversity needs > 1). */
  batch: number;
  /** Adam's learning rate, β₁, β₂, ε (TensorFlow's AdamOptimizer). */
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  seed: number;
  /** σ of the spectrum's initial normal values. */
  sd: number;
  decayPower: number;
  decorrelate: boolean;
  transforms: FeatureVisTransform[];
  /** Steps at the start that use Lucid's redirected ReLU gradient. */
  redirectedSteps: number;
  /** A preview image every this many steps. */
  previewEvery: number;
}

export interface FeatureVisOptions {
  /** Summed with their weights (default 1): sums and differences of terms. */
  objective: FeatureVisTerm[];
  params?: Partial<FeatureVisParams>;
  /** Ignore a cached result and recompute. */
  refresh?: boolean;
  /** Over the model's loupe.json "input" (part of the cache key). */
  preprocessing?: Partial<Preprocessing>;
}

export interface FeatureVisSummary {
  model: string;
  objective: FeatureVisTerm[];
  params: FeatureVisParams;
  /** Image size [h, w, channels] and the model input it was resized to. */
  imageShape: [number, number, number];
  inputShape: [number, number, number];
  /** The objective after every step (the transforms make it noisy). */
  values: number[];
  /** Milliseconds: total, and per step split into parameterisation + transforms (forward and backward) and the model. */
  ms: number;
  msPerStep: { parameterisation: number; model: number; total: number };
  backend: BackendName;
  notes: string[];
  /** File names inside `dir`: the batch side by side, then one per image. */
  image: string;
  images: string[];
  dir: string;
  cached: boolean;
}

/** A preview of a running visualisation (worker → client with the request's id). */
export interface FeatureVisPreview {
  step: number;
  steps: number;
  value: number;
  /** PNG of the batch side by side, base64. */
  png: string;
}
