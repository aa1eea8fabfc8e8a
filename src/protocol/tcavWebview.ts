/**
 * Messages between the extension host and the TCAV panel's webview (webview/tcav). Everything the
 * webview sends is untrusted: the host checks each message with `isFromTcavWebview`, and the state a
 * reload hands back with `isTcavPanelState`. Pure TypeScript, no Node or DOM types: both rooms compile it.
 */
import { COMMON_PANEL_MESSAGES, hasOnly, messageGuard, isObj, isPath, type PanelStatusMessage } from './panelMessages';
import type { TcavResult } from './tcav';

export const TCAV_EXPORTS = ['csv', 'json', 'png'] as const;
export type TcavExport = (typeof TCAV_EXPORTS)[number];

/** What a reload hands back to the serializer: enough to find the cached result again, never the result. */
export interface TcavPanelState {
  /** fsPath of the model. */
  modelPath: string;
  /** The result's cache key. */
  key: string;
}

export interface TcavView {
  result: TcavResult;
  /** Short model name for the header. */
  modelName: string;
}

/** Messages host → webview. */
export type ToTcavWebview =
  | { type: 'show'; view: TcavView; state: TcavPanelState }
  | PanelStatusMessage;

/** Messages webview → host. */
export type FromTcavWebview =
  | { type: 'ready' }
  /** Open the source definition of `layer`. */
  | { type: 'openLayer'; layer: string }
  /** Save the result's tcav.csv, tcav.json or tcav.png where the user chooses. */
  | { type: 'export'; format: TcavExport }
  /** Run the same test again, ignoring the cache. */
  | { type: 'recompute' };

const KEY = /^[0-9a-f]{8,64}$/;

export function isTcavPanelState(v: unknown): v is TcavPanelState {
  return isObj(v) && hasOnly(v, ['modelPath', 'key']) && isPath(v.modelPath) && typeof v.key === 'string' && KEY.test(v.key);
}

/** The type guard the host applies to every message from the TCAV webview. Extra keys are refused. */
export const isFromTcavWebview = messageGuard<FromTcavWebview>({
  ...COMMON_PANEL_MESSAGES,
  export: { format: (f: unknown) => (TCAV_EXPORTS as readonly unknown[]).includes(f) },
});
