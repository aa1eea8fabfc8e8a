/**
 * Text the host shows for TCAV results beside the code and in pickers. Pure (no `vscode` import) so
 * the wording is tested in Node.
 */
import { tcavScoreText, type TcavResult } from '../../protocol/tcav';

/** How many concepts the CodeLens names before `…`. */
export const LENS_CONCEPTS = 4;

/** `TCAV for "zebra": stripes 0.94*, dots 0.51 n.s.` — the layer's concepts, significant ones first, then by score. */
export function tcavLensTitle(result: Pick<TcavResult, 'classLabel' | 'layers'>, layer: string, max = LENS_CONCEPTS): string | undefined {
  const l = result.layers.find((x) => x.layer === layer);
  if (!l) return undefined;
  const concepts = [...l.concepts].sort((a, b) => Number(b.significant) - Number(a.significant) || b.mean - a.mean);
  const shown = concepts.slice(0, max).map((c) => `${c.concept} ${tcavScoreText(c)}`);
  return `TCAV for "${result.classLabel}": ${shown.join(', ')}${concepts.length > max ? ', …' : ''}`;
}

/** `circle · relu2, relu4 · red, square (20 runs)` — a result in a quick pick. */
export function tcavDescription(result: Pick<TcavResult, 'classLabel' | 'layers' | 'params'>): string {
  const concepts = result.layers[0]?.concepts.map((c) => c.concept) ?? [];
  return `${result.classLabel} · ${result.layers.map((l) => l.layer).join(', ')} · ${concepts.join(', ')} (${result.params.runs} runs)`;
}

/** The newest result (by `created`) that tested `layer`. */
export function latestForLayer<T extends Pick<TcavResult, 'layers' | 'created'>>(results: Iterable<T>, layer: string): T | undefined {
  let best: T | undefined;
  for (const r of results) {
    if (r.layers.some((l) => l.layer === layer) && (!best || r.created > best.created)) best = r;
  }
  return best;
}
