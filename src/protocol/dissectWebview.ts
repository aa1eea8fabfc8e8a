/**
 * Messages between the extension host and the Dissection panel's webview (webview/dissect).
 * As with the Explain panel, everything the webview sends is untrusted: the host checks each message
 * with `isFromDissectWebview`, and the state a reload hands back with `isDissectPanelState`.
 * Pure TypeScript, no Node or DOM types: both rooms compile it.
 */
import { COMMON_PANEL_MESSAGES, hasOnly, messageGuard, isIndex, isName, isObj, isPath, MAX_NAME, type PanelStatusMessage } from './panelMessages';
import type { DissectionSummary } from './types';

export const UNIT_SORTS = ['iou', 'unit'] as const;
export type UnitSort = (typeof UNIT_SORTS)[number];

/** The grid's display choices and the unit whose detail is open; they survive a reload. */
export interface DissectUiState {
  sort: UnitSort;
  /** Show only units labelled with a concept of this category; '' = every category. */
  category: string;
  /** Show only units whose best IoU is at least this. */
  minIou: number;
  /** The unit whose detail view is open. */
  unit?: number;
}

export const DEFAULT_DISSECT_UI: DissectUiState = { sort: 'iou', category: '', minIou: 0 };

/** What a reload hands back to the serializer: enough to find the cached result again, never the result. */
export interface DissectPanelState {
  /** fsPath of the model.json. */
  modelPath: string;
  layer: string;
  ui: DissectUiState;
}

/** A dissection as the webview shows it: the summary plus a webview URI per unit strip (same order as `summary.units`). */
export interface DissectView {
  summary: DissectionSummary;
  strips: string[];
  /** Short model name for the header. */
  modelName: string;
  /** Feature visualisation: a webview URI per unit of its picture ('' where none exists yet; same order as `summary.units`). */
  pictures?: string[];
}

/** Messages host → webview. */
export type ToDissectWebview =
  | { type: 'show'; view: DissectView; state: DissectPanelState }
  | PanelStatusMessage;

/** Messages webview → host. */
export type FromDissectWebview =
  | { type: 'ready' }
  /** Open the source definition of `layer`. */
  | { type: 'openLayer'; layer: string }
  /** Compute this layer's dissection again, ignoring the cache. */
  | { type: 'recompute' }
  /** The user changed sorting, filters or the open unit. */
  | { type: 'ui'; ui: DissectUiState }
  /** Feature visualisation: render (or show) the unit's picture. */
  | { type: 'visualizeUnit'; unit: number };

export function isDissectUiState(v: unknown): v is DissectUiState {
  return isObj(v) && hasOnly(v, ['sort', 'category', 'minIou', 'unit'])
    && (UNIT_SORTS as readonly unknown[]).includes(v.sort)
    && typeof v.category === 'string' && v.category.length <= MAX_NAME
    && typeof v.minIou === 'number' && Number.isFinite(v.minIou) && v.minIou >= 0 && v.minIou <= 1
    && (v.unit === undefined || isIndex(v.unit));
}

export function isDissectPanelState(v: unknown): v is DissectPanelState {
  return isObj(v) && hasOnly(v, ['modelPath', 'layer', 'ui'])
    && isPath(v.modelPath)
    && isName(v.layer)
    && isDissectUiState(v.ui);
}

/** The type guard the host applies to every message from the Dissection webview. Extra keys are refused. */
export const isFromDissectWebview = messageGuard<FromDissectWebview>({
  ...COMMON_PANEL_MESSAGES,
  ui: { ui: isDissectUiState },
  visualizeUnit: { unit: isIndex },
});
