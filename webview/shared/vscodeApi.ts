/**
 * A page's side of the message channel, typed with its panel's protocol unions. VS Code lets a page
 * call `acquireVsCodeApi` once: each bundle connects once, in its vscodeApi.ts.
 */

interface VsCodeApi<From, State> {
  postMessage(message: From): void;
  getState(): unknown;
  setState(state: State): void;
}

declare function acquireVsCodeApi<From, State>(): VsCodeApi<From, State>;

export interface HostChannel<From, State> {
  post(message: From): void;
  /** The state the page last persisted (checked with `isState`: it comes back from storage). */
  savedState(): State | undefined;
  /** What a window reload hands back to the host's serializer: small, never the result itself. */
  persist(state: State): void;
}

export function connectToHost<From, State>(isState: (v: unknown) => v is State): HostChannel<From, State> {
  const api = acquireVsCodeApi<From, State>();
  return {
    post: (message) => api.postMessage(message),
    savedState: () => {
      const s = api.getState();
      return isState(s) ? s : undefined;
    },
    persist: (state) => api.setState(state),
  };
}
