/**
 * Messages between the extension host and the Explain panel's webview (webview/explain).
 * Everything the webview sends is untrusted: the host checks each message with `isFromWebview`
 * before acting on it, and checks the state a reload hands back with `isPanelState`.
 * Pure TypeScript, no Node or DOM types: both rooms compile it.
 */
import { hasOnly, isIndex, isName, isObj, isPath, type PanelStatusMessage } from './panelMessages';
import type { ExplainSummary, MapSummary, MethodId } from './types';

export const METHOD_IDS: readonly MethodId[] = [
  'gradient', 'gradxinput', 'smoothgrad', 'smoothgrad-sq', 'vargrad', 'ig', 'guided-backprop',
  'deconvnet', 'cam', 'gradcam', 'guided-gradcam', 'occlusion',
];

/** Colormaps for magnitude maps (sequential; low = dark). */
export const SEQUENTIAL_COLORMAPS = ['inferno', 'viridis', 'magma', 'plasma', 'turbo', 'greys'] as const;
/** Colormaps for signed maps (diverging; negative blue-ish, zero light, positive red-ish). */
export const DIVERGING_COLORMAPS = ['RdBu', 'PiYG', 'PuOr', 'BrBG'] as const;
export type SequentialColormap = (typeof SEQUENTIAL_COLORMAPS)[number];
export type DivergingColormap = (typeof DIVERGING_COLORMAPS)[number];

/** The panel's display choices; they survive a reload. */
export interface PanelUiState {
  sequential: SequentialColormap;
  diverging: DivergingColormap;
  /** Opacity of the map over the image, 0..1. */
  opacity: number;
}

export const DEFAULT_UI: PanelUiState = { sequential: 'inferno', diverging: 'RdBu', opacity: 0.6 };

/**
 * What a panel persists across a window reload (webview `setState`, handed back to the serializer):
 * enough to recompute the analysis, never the maps themselves.
 */
export interface PanelState {
  /** fsPath of the model.json. */
  modelPath: string;
  /** fsPath of the image. */
  imagePath: string;
  classIndex?: number;
  layer?: string;
  methods: MethodId[];
  ui: PanelUiState;
}

/**
 * One map as the webview draws it: its H×W display values. Typed arrays cross the webview bridge as binary
 * (no base64, no JSON of numbers), and once per page: a later `show` names a map the page already holds by
 * its `id` alone (no `display`), since a panel filling in posts one message per map.
 */
export interface WebviewMap {
  id: string;
  summary: MapSummary;
  width: number;
  height: number;
  display?: Float32Array;
}

export interface WebviewResult {
  summary: ExplainSummary;
  /** The image as the model sees it: RGBA bytes (sent once per page, like a map's values). */
  image: { id: string; width: number; height: number; rgba?: Uint8Array };
  maps: WebviewMap[];
}

// ── progressive panel (issue 12) ──
/** A map not shown yet: waiting its turn, being computed (with its progress), cancelled, or failed (message). */
export interface WebviewPendingMap {
  method: MethodId;
  status: 'queued' | 'running' | 'cancelled' | 'failed';
  fraction?: number;
  message?: string;
}

/** What the panel shows beside the maps while they fill in. */
export interface WebviewProgress {
  /** Maps still to come (or stopped), in the panel's order. */
  pending: WebviewPendingMap[];
  /** Methods whose shown map was read from the cache. */
  fromCache: MethodId[];
  /** loupe.sanityCheck, so the panel offers its buttons (onDemand) or not (off). */
  sanityMode: 'off' | 'onDemand' | 'afterMaps';
  /** The sanity check's progress line. */
  sanity?: { running: boolean; text: string };
}
// ── end progressive panel ──

/** Messages host → webview. */
export type ToWebview =
  /**
   * A result to show, with the layers Grad-CAM can use and the state the webview must persist.
   * `preprocessingNote`: the model has no loupe.json; the defaults used, shown with a "Create loupe.json…" button.
   * `progress`: maps still to come, which came from the cache, and the sanity check's state.
   */
  | ({ type: 'show'; result: WebviewResult; layers: string[]; layer?: string; state: PanelState; preprocessingNote?: string; progress?: WebviewProgress }
    & ShowNames)
  /** A pending map's progress (its card's line; nothing else is redrawn). */
  | { type: 'mapProgress'; method: MethodId; fraction: number; message: string }
  | PanelStatusMessage;

/** What `show` adds so names and choices scale (issue 12). */
export interface ShowNames {
  /** The model as the Models view names it (its folder, or its file for single-file formats). */
  modelName?: string;
  /** The layers the Grad-CAM picker offers before "show all": convolutions, activations, pooling, the default layer. */
  featureLayers?: string[];
}

/** Messages webview → host. */
export type FromWebview =
  /** The webview's script runs and can receive `show`. */
  | { type: 'ready' }
  /** Explain class `classIndex` with the methods shown. */
  | { type: 'explainClass'; classIndex: number }
  /** Re-run Grad-CAM (and guided Grad-CAM when shown) at `layer`. */
  | { type: 'setLayer'; layer: string }
  /** Compute occlusion and add its map. */
  | { type: 'runOcclusion' }
  /** Save this map's rendering (a PNG data URL the webview drew) to a file the user picks. */
  | { type: 'exportPng'; method: MethodId; dataUrl: string }
  /** Save this map's summary and raw numbers as JSON to a file the user picks. */
  | { type: 'exportJson'; method: MethodId }
  /** Open the source definition of `layer`. */
  | { type: 'openLayer'; layer: string }
  /** The user changed colormaps or opacity. */
  | { type: 'ui'; ui: PanelUiState }
  /** Write loupe.json for the panel's model (the note's button). */
  | { type: 'createSidecar' }
  /** Stop computing this map (its card's Cancel). */
  | { type: 'cancelMethod'; method: MethodId }
  /** Compute this map again (a cancelled or failed card's button). */
  | { type: 'computeMethod'; method: MethodId }
  /** Run the sanity check for this map, or for every map shown when no method is given. */
  | { type: 'sanityCheck'; method?: MethodId }
  /** Compute every map again, ignoring the cache. */
  | { type: 'recompute' };

/** A PNG data URL larger than this is refused (an upscaled 4k map is well below). */
export const MAX_PNG_DATA_URL = 64 * 1024 * 1024;

export function isMethodId(v: unknown): v is MethodId {
  return typeof v === 'string' && (METHOD_IDS as readonly string[]).includes(v);
}

export function isPanelUiState(v: unknown): v is PanelUiState {
  return isObj(v) && hasOnly(v, ['sequential', 'diverging', 'opacity'])
    && (SEQUENTIAL_COLORMAPS as readonly unknown[]).includes(v.sequential)
    && (DIVERGING_COLORMAPS as readonly unknown[]).includes(v.diverging)
    && typeof v.opacity === 'number' && Number.isFinite(v.opacity) && v.opacity >= 0 && v.opacity <= 1;
}

/** Checks the state a reload hands back (it was written by the webview: untrusted). */
export function isPanelState(v: unknown): v is PanelState {
  return isObj(v)
    && hasOnly(v, ['modelPath', 'imagePath', 'classIndex', 'layer', 'methods', 'ui'])
    && isPath(v.modelPath)
    && isPath(v.imagePath)
    && (v.classIndex === undefined || isIndex(v.classIndex))
    && (v.layer === undefined || isName(v.layer))
    && Array.isArray(v.methods) && v.methods.length > 0 && v.methods.length <= METHOD_IDS.length
    && v.methods.every(isMethodId)
    && isPanelUiState(v.ui);
}

const PNG_DATA_URL = /^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/;

export function isPngDataUrl(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_PNG_DATA_URL && PNG_DATA_URL.test(v);
}

/** The type guard the host applies to every message from the webview. Extra keys are refused. */
export function isFromWebview(v: unknown): v is FromWebview {
  if (!isObj(v) || typeof v.type !== 'string') return false;
  switch (v.type) {
    case 'ready':
    case 'runOcclusion':
    case 'createSidecar':
    case 'recompute':
      return hasOnly(v, ['type']);
    case 'cancelMethod':
    case 'computeMethod':
      return hasOnly(v, ['type', 'method']) && isMethodId(v.method);
    case 'sanityCheck':
      return hasOnly(v, ['type', 'method']) && (v.method === undefined || isMethodId(v.method));
    case 'explainClass':
      return hasOnly(v, ['type', 'classIndex']) && isIndex(v.classIndex);
    case 'setLayer':
    case 'openLayer':
      return hasOnly(v, ['type', 'layer']) && isName(v.layer);
    case 'exportPng':
      return hasOnly(v, ['type', 'method', 'dataUrl']) && isMethodId(v.method) && isPngDataUrl(v.dataUrl);
    case 'exportJson':
      return hasOnly(v, ['type', 'method']) && isMethodId(v.method);
    case 'ui':
      return hasOnly(v, ['type', 'ui']) && isPanelUiState(v.ui);
    default:
      return false;
  }
}
