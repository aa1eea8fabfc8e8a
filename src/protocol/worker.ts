/**
 * The JSON-RPC protocol between a host (extension, tests, bench) and the Loupe worker process.
 * Transport: vscode-jsonrpc over the Node IPC channel of `child_process.fork`.
 * Cancellation: jsonrpc's own `$/cancelRequest`; the worker turns it into an AbortSignal.
 */
import { NotificationType, RequestType } from 'vscode-jsonrpc';
import type { LoupeErrorCode } from './errors';
import type {
  BackendName,
  BackendPreference,
  DissectOptions,
  DissectionSummary,
  ExplainOptions,
  ExplainSummary,
  MapSummary,
  ModelDescription,
  Prediction, Preprocessing } from './types';
import type { TcavOptions, TcavResult } from './tcav';
import type { ActivationGridOptions, ActivationGridResult, BlocksOptions, BlocksResult } from './blocks';
import type { FeatureVisOptions, FeatureVisPreview, FeatureVisSummary } from './featureVis';

/** jsonrpc error code of a reply that carries a LoupeError in `data`. */
export const LOUPE_ERROR_CODE = -32001;

/** `data` of every error reply the worker sends: enough for the client to rebuild the LoupeError. */
export interface WorkerErrorData {
  code: LoupeErrorCode;
  file?: string;
  hint?: string;
  /** The error's message without the file prefix and hint suffix (LoupeError's constructor argument). */
  detail: string;
}

export interface HelloParams {
  /** Backend the worker should use; only honoured before the engine exists. Default: env LOUPE_BACKEND, else auto. */
  backend?: BackendPreference;
}
export interface HelloResult {
  backend: BackendName;
  pid: number;
  versions: { node: string; tfjs: string; loupe: string };
}

export interface DescribeParams {
  modelPath: string;
}

export interface PredictParams {
  modelPath: string;
  imagePath: string;
  topK?: number;
  /** Over the model's loupe.json "input" (see ExplainOptions.preprocessing). */
  preprocessing?: Partial<Preprocessing>;
}

export interface ExplainParams {
  modelPath: string;
  imagePath: string;
  options: ExplainOptions;
  /** When set, the worker also writes the files of `writeExplainOutputs` into this folder. */
  outDir?: string;
  /** Client-chosen id echoed in `loupe/progress` (jsonrpc's own id is not visible to handlers). */
  requestId?: string;
}

/** One map with its Float32Arrays as base64 strings of their little-endian bytes. */
export interface WireMap {
  summary: MapSummary;
  data: string;
  lowres?: string;
  display: string;
}

export interface WireExplainResult {
  summary: ExplainSummary;
  maps: WireMap[];
  /** The image as the model sees it, RGBA bytes (values rounded to 0..255) as base64. */
  image: { width: number; height: number; rgba: string };
  /** Files written when `outDir` was given, in the order written. */
  written?: string[];
}

export interface DissectParams {
  modelPath: string;
  options: DissectOptions;
  /** Client-chosen id echoed in `loupe/progress`. */
  requestId?: string;
}

export interface CachedDissectionsParams {
  modelPath: string;
}

// ---- TCAV ----

export interface TcavParams {
  modelPath: string;
  options: TcavOptions;
  /** Client-chosen id echoed in `loupe/progress`. */
  requestId?: string;
}

export interface CachedTcavParams {
  modelPath: string;
}

// ---- end TCAV ----

export interface ForgetParams {
  modelPath?: string;
}

export interface ProgressParams {
  requestId: string;
  fraction: number;
  message: string;
}

/** client → worker: start the engine (if not yet) and report backend, pid and versions. */
export const HelloRequest = new RequestType<HelloParams, HelloResult, WorkerErrorData>('loupe/hello');
/** client → worker: the model's layers, input shape, labels and preprocessing. */
export const DescribeRequest = new RequestType<DescribeParams, ModelDescription, WorkerErrorData>('loupe/describe');
/** client → worker: the top-K predictions for one image. */
export const PredictRequest = new RequestType<PredictParams, Prediction[], WorkerErrorData>('loupe/predict');
/** client → worker: compute attribution maps (cancellable; sends loupe/progress). */
export const ExplainRequest = new RequestType<ExplainParams, WireExplainResult, WorkerErrorData>('loupe/explain');
/** client → worker: network dissection of one layer (cancellable; sends loupe/progress; result cached on disk). */
export const DissectRequest = new RequestType<DissectParams, DissectionSummary, WorkerErrorData>('loupe/dissect');
/** client → worker: the dissections on disk for the model's current weights (no computation). */
export const CachedDissectionsRequest = new RequestType<CachedDissectionsParams, DissectionSummary[], WorkerErrorData>('loupe/cachedDissections');
/** client → worker: TCAV of a class at some layers (cancellable; sends loupe/progress; result cached on disk). */
export const TcavRequest = new RequestType<TcavParams, TcavResult, WorkerErrorData>('loupe/tcav');
/** client → worker: the TCAV results on disk for the model's current weights (no computation). */
export const CachedTcavRequest = new RequestType<CachedTcavParams, TcavResult[], WorkerErrorData>('loupe/cachedTcav');
/** client → worker: drop cached models (all when no modelPath). */
export const ForgetRequest = new RequestType<ForgetParams, void, WorkerErrorData>('loupe/forget');
/** worker → client: progress of the request whose `requestId` the client chose. */
export const ProgressNotification = new NotificationType<ProgressParams>('loupe/progress');

// ── feature visualisation and Building Blocks (src/engine/featureVis, src/engine/blocks) ──

export interface VisualizeParams {
  modelPath: string;
  options: FeatureVisOptions;
  /** Client-chosen id echoed in `loupe/progress` and `loupe/featureVisPreview`. */
  requestId?: string;
}

export interface CachedFeatureVisParams {
  modelPath: string;
}

export interface BlocksParams {
  modelPath: string;
  imagePath: string;
  options: BlocksOptions;
  requestId?: string;
}

export interface ActivationGridParams {
  modelPath: string;
  imagePath: string;
  options: ActivationGridOptions;
  requestId?: string;
}

export interface FeatureVisPreviewParams {
  requestId: string;
  preview: FeatureVisPreview;
}

/** client → worker: Lucid's feature visualisation of an objective (cancellable; progress and previews; cached on disk). */
export const VisualizeRequest = new RequestType<VisualizeParams, FeatureVisSummary, WorkerErrorData>('loupe/visualize');
/** client → worker: the feature visualisations on disk for the model's current weights (no computation). */
export const CachedFeatureVisRequest = new RequestType<CachedFeatureVisParams, FeatureVisSummary[], WorkerErrorData>('loupe/cachedFeatureVis');
/** client → worker: semantic dictionary, spatial and channel attribution, neuron groups of one image at one layer (cancellable). */
export const BlocksRequest = new RequestType<BlocksParams, BlocksResult, WorkerErrorData>('loupe/blocks');
/** client → worker: the activation grid, one feature visualisation per position (cancellable; progress). */
export const ActivationGridRequest = new RequestType<ActivationGridParams, ActivationGridResult, WorkerErrorData>('loupe/activationGrid');
/** worker → client: a preview image of a running visualisation. */
export const FeatureVisPreviewNotification = new NotificationType<FeatureVisPreviewParams>('loupe/featureVisPreview');
// ── end feature visualisation and Building Blocks ──

// ── progressive Explain panel (issue 12): the forward pass alone, before any map ──

export interface ForwardParams {
  modelPath: string;
  imagePath: string;
  topK?: number;
  /** Over the model's loupe.json "input" (see ExplainOptions.preprocessing). */
  preprocessing?: Partial<Preprocessing>;
}

/** What one forward pass tells: the predictions and how the image was fed. */
export interface ForwardSummary {
  model: string;
  /** The image file, resolved. */
  source: string;
  backend: BackendName;
  inputShape: number[];
  predictions: Prediction[];
  preprocessing: Preprocessing;
  /** What the panel should say about the input (an image much smaller than the model's input, …). */
  inputNotes?: string[];
}

export interface WireForwardResult extends ForwardSummary {
  /** The image as the model sees it, RGBA bytes as base64 (as WireExplainResult.image). */
  image: { width: number; height: number; rgba: string };
}

/**
 * client → worker: the image as the model sees it and its top-K predictions (one forward pass). The worker
 * keeps this pass: explain requests on the same image, weights and preprocessing that follow reuse it.
 */
export const ForwardRequest = new RequestType<ForwardParams, WireForwardResult, WorkerErrorData>('loupe/forward');
// ── end progressive Explain panel ──
