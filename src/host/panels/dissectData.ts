/**
 * Data work behind the Dissection panel, pure (no `vscode` import) so it is tested in Node: where a
 * unit's strip lives, what the webview receives, and which folders it may load images from.
 */
import { displayLayerName } from '../../protocol/layerNames';
import * as path from 'node:path';
import type { DissectView } from '../../protocol/dissectWebview';
import type { DissectionSummary } from '../../protocol/types';

/**
 * The strip's file inside the result's folder (`units/unit_0003.png`), or undefined when `strip`
 * would leave it: result.json is read back from disk, and `../../x` or `/x` must not reach elsewhere.
 */
export function stripPath(summary: Pick<DissectionSummary, 'dir'>, strip: string): string | undefined {
  if (!strip || strip.includes('\0') || path.isAbsolute(strip) || /^[A-Za-z]:|^[\\/]/.test(strip)) return undefined;
  const file = path.join(summary.dir, strip);
  return isInside(file, summary.dir) && path.resolve(file) !== path.resolve(summary.dir) ? file : undefined;
}

/** The summary with one webview URI per unit (same order), '' where a unit has no valid strip. */
export function toDissectView(summary: DissectionSummary, modelName: string, uriOf: (file: string) => string): DissectView {
  return {
    summary,
    modelName,
    strips: summary.units.map((u) => {
      const file = stripPath(summary, u.strip);
      return file ? uriOf(file) : '';
    }),
  };
}

/** True when `file` is `folder` or lies inside it (after normalisation; no `..` escapes). */
export function isInside(file: string, folder: string): boolean {
  const rel = path.relative(path.resolve(folder), path.resolve(file));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Folders the panel may load images from: the cache, plus a result's own folder when it lies elsewhere. */
export function imageRoots(cacheDir: string, summaries: readonly Pick<DissectionSummary, 'dir'>[]): string[] {
  const roots = [cacheDir];
  for (const s of summaries) {
    if (!roots.some((r) => isInside(s.dir, r))) roots.push(s.dir);
  }
  return roots;
}

export function panelTitle(layer: string): string {
  return `Dissection: ${displayLayerName(layer)}`;
}
