/**
 * Messages between the extension host and the Feature Visualization panel's webview (webview/featureVis).
 * Everything the webview sends is untrusted: the host checks each message with `isFromFeatureVisWebview`,
 * and the state a reload hands back with `isFeatureVisPanelState`. Pure TypeScript: both rooms compile it.
 */
import type { FeatureVisPreview, FeatureVisSummary } from './featureVis';
import { COMMON_PANEL_MESSAGES, hasOnly, messageGuard, isIndex, isName, isObj, isPath, type PanelStatusMessage } from './panelMessages';

/** What a reload hands back: enough to find the cached picture again. */
export interface FeatureVisPanelState {
  modelPath: string;
  layer: string;
  unit: number;
}

export interface FeatureVisView {
  summary: FeatureVisSummary;
  /** Webview URI of the picture (the batch side by side). */
  image: string;
  modelName: string;
  /** The unit's top probe images from its network dissection, when the layer was dissected. */
  dissection?: { strip: string; label: string; category: string; iou: number; interpretable: boolean };
}

/** Messages host → webview. */
export type ToFeatureVisWebview =
  | { type: 'show'; view: FeatureVisView; state: FeatureVisPanelState }
  /** A run started for `state`: the page clears the old picture. */
  | { type: 'start'; state: FeatureVisPanelState; steps: number }
  /** A preview of the running optimisation (png: a data: URL). */
  | { type: 'preview'; preview: FeatureVisPreview & { png: string } }
  | PanelStatusMessage;

/** Messages webview → host. */
export type FromFeatureVisWebview =
  | { type: 'ready' }
  | { type: 'openLayer'; layer: string }
  /** Render the unit again, ignoring the cache. */
  | { type: 'recompute' };

export function isFeatureVisPanelState(v: unknown): v is FeatureVisPanelState {
  return isObj(v) && hasOnly(v, ['modelPath', 'layer', 'unit']) && isPath(v.modelPath) && isName(v.layer) && isIndex(v.unit);
}

export const isFromFeatureVisWebview = messageGuard<FromFeatureVisWebview>(COMMON_PANEL_MESSAGES);
