/** Numbers as the TCAV panel shows them (pure; test/webview-tcav-browser.test.ts reads them on the page). */

/** `3.2e-5`, `0.012`, `0.43`; `undefined` when the test could not be made (no variance). */
export function formatP(p: number | null): string {
  if (p === null) return 'undefined';
  if (p === 0) return '0';
  if (p < 0.001) return p.toExponential(1);
  return p < 0.01 ? p.toFixed(3) : p.toFixed(2);
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** An x position in [left, left + width] for a score in [0, 1] (clamped). */
export function scoreX(score: number, left: number, width: number): number {
  return left + width * Math.max(0, Math.min(1, score));
}
