/**
 * Data shared by the engine, the worker, the host and the CLI.
 * Plain JSON-serialisable shapes only: this file is the contract between rooms.
 */

/**
 * What ran a model's passes: ONNX Runtime's CPU kernels (the accelerator, on every core), else TF.js on
 * WebAssembly (one core per thread; lanes add threads), else TF.js's plain JavaScript kernels.
 */
export type BackendName = 'onnxruntime' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'onnxruntime', 'wasm', 'cpu'];

/** TF.js Layers / Graph model.json, an ONNX file (e.g. from torch.onnx.export), a Keras `.keras` or legacy `.h5` file. */
export type ModelFormat = 'layers' | 'graph' | 'onnx' | 'keras';

/** Attribution methods, one engine file each (src/engine/attribution). */
export type MethodId =
  | 'gradient'
  | 'gradxinput'
  | 'smoothgrad'
  | 'smoothgrad-sq'
  | 'vargrad'
  | 'ig'
  | 'guided-backprop'
  | 'deconvnet'
  | 'cam'
  | 'gradcam'
  | 'guided-gradcam'
  | 'occlusion';

export type TargetKind = 'logit' | 'probability';
export type IgBaseline = 'black' | 'blurred' | 'uniform';
export type IgRule = 'gausslegendre' | 'riemann_trapezoid' | 'riemann_middle';

/** Every tunable parameter of every method; each method reads the ones it needs. */
export interface MethodParams {
  /** SmoothGrad family: number of noisy samples. */
  samples: number;
  /** SmoothGrad family: noise σ as a fraction of the input's value range (max(x) − min(x)). */
  sigma: number;
  /** Integrated Gradients: number of interpolation steps. */
  steps: number;
  baseline: IgBaseline;
  rule: IgRule;
  /** Occlusion: window side and stride in input pixels; 0 means "derive from the input size". */
  window: number;
  stride: number;
  /** Occlusion: what replaces the window, 'black' (the preprocessed black pixel) or 'mean' (the image mean). */
  occlusionBaseline: 'black' | 'mean';
  /** Seed for every random draw (noise, uniform baselines, re-initialised weights). */
  seed: number;
  /** Upper bound on samples evaluated together, bounding memory. */
  maxBatch: number;
}

export interface Preprocessing {
  /** Value range the pixel [0, 255] is mapped onto before mean/std. */
  range: [number, number];
  mean: number[];
  std: number[];
  channels: 'rgb' | 'bgr' | 'gray';
}

export interface LayerInfo {
  name: string;
  className: string;
  /** Output shape without the batch dimension. */
  outputShape: number[];
  params: number;
  activation?: string;
  isConv: boolean;
  inputs: string[];
  /**
   * The name the user's code gives this layer, when the format keeps one that differs from `name`:
   * a PyTorch module path (`layer4.1.conv2`, shared by every call of a reused module) or a Keras layer name.
   * Code links resolve this name.
   */
  sourceName?: string;
}

export interface ModelDescription {
  path: string;
  format: ModelFormat;
  name: string;
  /** Input shape without the batch dimension: [H, W, C]. */
  inputShape: [number, number, number];
  numClasses: number;
  /** 'softmax' when the model ends in a softmax that Loupe strips to reach the logits. */
  head: 'logits' | 'softmax';
  layers: LayerInfo[];
  /** Layer whose output Grad-CAM uses by default: the last convolutional layer. */
  defaultCamLayer?: string;
  /** Why CAM is or is not available for this model. */
  cam: { available: boolean; reason: string; layer?: string };
  labels: string[];
  preprocessing: Preprocessing;
  totalParams: number;
  /**
   * How shapes are shown to the user: 'NCHW' for models from PyTorch (ONNX), whose users think in
   * [C, H, W]; 'NHWC' otherwise. Shapes in this description are always [H, W, C]: this says only how to show them.
   */
  layout: 'NHWC' | 'NCHW';
  /** Facts the user should know about how the model was read (e.g. preprocessing defaults assumed). */
  notes?: string[];
  /**
   * Modules that are not layers of their own but whose output is one: a PyTorch container (`layer4`,
   * `features.18`) → the layer that computes its output. Analyses accept these names wherever a layer is asked for.
   */
  moduleOutputs?: Record<string, string>;
}

export interface Prediction {
  index: number;
  label: string;
  probability: number;
  logit: number;
}

export interface ExplainOptions {
  methods: MethodId[];
  /** Target class; default: top-1. */
  classIndex?: number;
  target?: TargetKind;
  /** Layer for Grad-CAM / guided Grad-CAM; default: the last conv layer. */
  layer?: string;
  params?: Partial<MethodParams>;
  /** Run the Adebayo et al. model-randomisation check and report the rank correlation per method. */
  sanity?: boolean;
  /** How many conv/dense layers, from the top, the sanity check re-initialises (cascading randomisation); default 2. */
  sanityLayers?: number;
  topK?: number;
  /** Over the model's loupe.json "input" (the `loupe.preprocessing` setting); keys left out keep the model's values. */
  preprocessing?: Partial<Preprocessing>;
}

export interface MapSummary {
  method: MethodId;
  params: Record<string, unknown>;
  targetClass: number;
  label: string;
  target: TargetKind;
  logit: number;
  probability: number;
  ms: number;
  backend: BackendName;
  /** Shape of the raw map: [H, W, C] for input-space methods, [H, W] for CAM-style maps. */
  shape: number[];
  lowresShape?: number[];
  /** Signed maps use a diverging colormap, magnitudes a sequential one. */
  signed: boolean;
  layer?: string;
  /** Method-specific figures: IG completeness error, sanity rank correlation, … */
  figures: Record<string, number>;
  notes: string[];
  /** Why the map is too flat to colour (src/engine/output/uniform.ts), when it is: the panel labels it "near-uniform". */
  nearUniform?: string;
}

export interface ExplainSummary {
  model: string;
  image: string;
  backend: BackendName;
  inputShape: number[];
  predictions: Prediction[];
  maps: MapSummary[];
  /** Requested methods that do not apply to this model (e.g. CAM without a GAP + dense head), with why. */
  skipped: { method: MethodId; reason: string }[];
  /** The input transform the image went through (loupe.json, or the caller's override over it). */
  preprocessing?: Preprocessing;
  /** What the user should know about the image itself (one much smaller than the model's input). */
  inputNotes?: string[];
}

/** Where network dissection's probe images and concept masks come from. */
export type ProbeSpec =
  | { kind: 'builtin'; count?: number; size?: number; seed?: number }
  /** A Broden-format dataset (index.csv …) or a folder with one sub-folder of image + mask pairs per concept. */
  | { kind: 'path'; path: string; limit?: number };

export interface DissectOptions {
  /** Convolutional layer (H×W×C output) whose units are dissected. */
  layer: string;
  /** Default: the built-in generator with 1,000 images at 112×112, seed 1. */
  probe?: ProbeSpec;
  /** Top quantile of each unit's activations that forms its mask (NetDissect: 0.005). */
  quantile?: number;
  /** IoU above which a unit counts as a detector of its concept (NetDissect: 0.04). */
  iouThreshold?: number;
  /** Probe images shown per unit, ranked by the unit's maximum activation (default 8). */
  topImages?: number;
  /** Only these units (default: all). */
  units?: number[];
  /** Ignore a cached result and recompute (the new result replaces it). */
  refresh?: boolean;
  /** Over the model's loupe.json "input", as for ExplainOptions; part of the cache key. */
  preprocessing?: Partial<Preprocessing>;
}

export interface UnitConcept {
  label: string;
  category: string;
  iou: number;
}

export interface DissectedUnit {
  unit: number;
  /** The best-matching concept, whether or not it clears the IoU threshold. */
  label: string;
  category: string;
  iou: number;
  interpretable: boolean;
  /** T_k: the unit's activation threshold. */
  threshold: number;
  /** Next best concepts (up to 3), for context. */
  runnersUp: UnitConcept[];
  /** Top probe images: index in the probe set and the unit's maximum activation in it. */
  top: { image: number; activation: number }[];
  /** File name (inside the result's folder) of the PNG strip: the top images with the unit's mask outlined. */
  strip: string;
}

export interface DissectionCategory {
  name: string;
  /** Interpretable units whose concept lies in this category. */
  units: number;
  /** Distinct concepts among them. */
  concepts: string[];
}

export interface DissectionSummary {
  model: string;
  layer: string;
  /** The layer's output shape [H, W, C]. */
  layerShape: number[];
  probe: { kind: 'builtin' | 'broden' | 'folders'; name: string; images: number; concepts: number; categories: string[] };
  params: { quantile: number; iouThreshold: number; topImages: number };
  units: DissectedUnit[];
  interpretable: number;
  categories: DissectionCategory[];
  backend: BackendName;
  ms: number;
  /** Folder that holds this result (result.json and the unit strips). */
  dir: string;
  /** True when the result was read from the cache instead of computed. */
  cached: boolean;
}
