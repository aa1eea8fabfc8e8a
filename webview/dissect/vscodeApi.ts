/** The Dissection page's side of the message channel, typed with the protocol's unions. */
import { isDissectPanelState, type DissectPanelState, type FromDissectWebview } from '../../src/protocol/dissectWebview';

interface VsCodeApi {
  postMessage(message: FromDissectWebview): void;
  getState(): unknown;
  setState(state: DissectPanelState): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

export function post(message: FromDissectWebview): void {
  api.postMessage(message);
}

/** The state the page last persisted (checked: it comes back from storage). */
export function savedState(): DissectPanelState | undefined {
  const s = api.getState();
  return isDissectPanelState(s) ? s : undefined;
}

export function persist(state: DissectPanelState): void {
  api.setState(state);
}
