/** The webview side of the message channel, typed with the protocol's unions. */
import { isPanelState, type FromWebview, type PanelState } from '../../src/protocol/webview';

interface VsCodeApi {
  postMessage(message: FromWebview): void;
  getState(): unknown;
  setState(state: PanelState): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

export function post(message: FromWebview): void {
  api.postMessage(message);
}

/** The state the host last asked to persist (checked: it comes back from storage). */
export function savedState(): PanelState | undefined {
  const s = api.getState();
  return isPanelState(s) ? s : undefined;
}

/** What a window reload hands back to the host's serializer: small, no maps. */
export function persist(state: PanelState): void {
  api.setState(state);
}
