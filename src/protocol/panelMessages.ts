/**
 * What the messages of every Loupe panel share (webview.ts for the Explain panel, dissectWebview.ts for
 * the Dissection panel): the status messages the host sends, and the pieces their guards are built from.
 * Pure TypeScript, no Node or DOM types: both rooms compile it.
 */

/** Host → webview, in every panel: work for this panel started (message) or ended (no message), or failed. */
export type PanelStatusMessage =
  /** An analysis for this panel started (message) or ended (no message). */
  | { type: 'busy'; busy: boolean; message?: string }
  /** The last analysis for this panel failed; the result shown (if any) is unchanged. */
  | { type: 'error'; message: string };

/** Longest layer name accepted from a webview (real names are short; this bounds what we log). */
export const MAX_NAME = 512;
/** Longest file path accepted from a webview's saved state. */
export const MAX_PATH = 4096;

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when `o` has no key outside `keys` (messages with extra keys are refused). */
export function hasOnly(o: Obj, keys: readonly string[]): boolean {
  return Object.keys(o).every((k) => keys.includes(k));
}

export function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME;
}

export function isPath(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_PATH;
}

/** A class or unit index: a whole number in [0, 1e6). */
export function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1_000_000;
}

/** A short description of a refused message for the log (never the whole payload). */
export function describeBadMessage(v: unknown): string {
  if (!isObj(v)) return `a ${v === null ? 'null' : typeof v} instead of an object`;
  const type = typeof v.type === 'string' ? JSON.stringify(v.type.slice(0, 40)) : 'no type';
  return `message ${type} with keys ${Object.keys(v).slice(0, 10).join(', ')}`;
}

/** Per message type, the check of each field besides `type`: a field listed is required unless its check accepts undefined. */
export type MessageShapes = Record<string, Record<string, (value: unknown) => boolean>>;

/** What every analysis panel's webview may send: it is ready, open a layer's source, compute again. */
export const COMMON_PANEL_MESSAGES = {
  ready: {},
  recompute: {},
  openLayer: { layer: isName },
} satisfies MessageShapes;

/**
 * The type guard the host applies to every message from a webview, built from its shapes: the type must be
 * listed, every field must pass its check, and extra keys are refused.
 */
export function messageGuard<T>(shapes: MessageShapes): (v: unknown) => v is T {
  return (v: unknown): v is T => {
    if (!isObj(v) || typeof v.type !== 'string' || !Object.hasOwn(shapes, v.type)) return false;
    const fields = shapes[v.type]!;
    return hasOnly(v, ['type', ...Object.keys(fields)]) && Object.entries(fields).every(([key, check]) => check(v[key]));
  };
}
