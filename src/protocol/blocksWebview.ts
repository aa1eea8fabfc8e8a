/**
 * Messages between the extension host and the Building Blocks panel's webview (webview/blocks). Everything the
 * webview sends is untrusted: the host checks each message with `isFromBlocksWebview`, and the state a reload
 * hands back with `isBlocksPanelState`. Pure TypeScript: both rooms compile it.
 */
import type { BlocksResult } from './blocks';
import { hasOnly, isIndex, isName, isObj, isPath, type PanelStatusMessage } from './panelMessages';

/** The analysis the panel asks for: what a rerun changes. */
export interface BlocksRequestState {
  layer: string;
  classIndex?: number;
  versusClass?: number;
  toLayer?: string;
  groups: number;
}

/** What a reload hands back. */
export interface BlocksPanelState {
  modelPath: string;
  imagePath: string;
  request: BlocksRequestState;
}

export interface BlocksView {
  result: BlocksResult;
  modelName: string;
  imageName: string;
  /** The model's spatial layers (for the layer picker) and class labels (for the class pickers). */
  layers: string[];
  classes: string[];
  /** Per channel of the layer: webview URI of its feature visualisation, '' when none exists. */
  pictures: string[];
  /** Per channel: webview URI of its top probe images from a dissection (the icon's stand-in), '' when none. */
  probes: string[];
  /** The neuron groups' direction visualisations (the K images side by side), once rendered. */
  groupPictures?: string;
}

/** Messages host → webview. */
export type ToBlocksWebview =
  | { type: 'show'; view: BlocksView; state: BlocksPanelState }
  /** The activation grid, once computed (png: a data: URL). */
  | { type: 'grid'; png: string; rows: number; cols: number; cellSize: number }
  /** The groups' pictures, once rendered (a webview URI of the K images side by side). */
  | { type: 'groupPictures'; uri: string }
  | PanelStatusMessage;

/** Messages webview → host. */
export type FromBlocksWebview =
  | { type: 'ready' }
  | { type: 'openLayer'; layer: string }
  /** Compute again with another layer, class, comparison class, later layer or number of groups. */
  | { type: 'rerun'; request: BlocksRequestState }
  | { type: 'visualizeUnit'; unit: number }
  /** Render the neuron groups' directions (Lucid's NeuronGroups icons). */
  | { type: 'visualizeGroups' }
  | { type: 'activationGrid' }
  /** Save the result: its numbers as JSON, or the picture the page drew (a PNG data: URL). */
  | { type: 'export'; format: 'json' }
  | { type: 'export'; format: 'png'; png: string };

/** Largest PNG data URL accepted from the page (a few MB of picture). */
export const MAX_EXPORT_URL = 16 * 1024 * 1024;

function isOptionalIndex(v: unknown): boolean {
  return v === undefined || isIndex(v);
}

export function isBlocksRequestState(v: unknown): v is BlocksRequestState {
  return isObj(v) && hasOnly(v, ['layer', 'classIndex', 'versusClass', 'toLayer', 'groups'])
    && isName(v.layer) && isOptionalIndex(v.classIndex) && isOptionalIndex(v.versusClass)
    && (v.toLayer === undefined || isName(v.toLayer))
    && typeof v.groups === 'number' && Number.isInteger(v.groups) && v.groups >= 1 && v.groups <= 64;
}

export function isBlocksPanelState(v: unknown): v is BlocksPanelState {
  return isObj(v) && hasOnly(v, ['modelPath', 'imagePath', 'request']) && isPath(v.modelPath) && isPath(v.imagePath)
    && isBlocksRequestState(v.request);
}

export function isFromBlocksWebview(v: unknown): v is FromBlocksWebview {
  if (!isObj(v) || typeof v.type !== 'string') return false;
  switch (v.type) {
    case 'ready':
    case 'visualizeGroups':
    case 'activationGrid':
      return hasOnly(v, ['type']);
    case 'openLayer':
      return hasOnly(v, ['type', 'layer']) && isName(v.layer);
    case 'rerun':
      return hasOnly(v, ['type', 'request']) && isBlocksRequestState(v.request);
    case 'visualizeUnit':
      return hasOnly(v, ['type', 'unit']) && isIndex(v.unit);
    case 'export':
      if (v.format === 'json') return hasOnly(v, ['type', 'format']);
      return v.format === 'png' && hasOnly(v, ['type', 'format', 'png']) && typeof v.png === 'string'
        && v.png.length <= MAX_EXPORT_URL && v.png.startsWith('data:image/png;base64,');
    default:
      return false;
  }
}
