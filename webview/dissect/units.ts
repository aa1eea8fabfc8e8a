/** What the Dissection panel's grid and chart show, as pure functions of the summary and the ui state (tested in Node). */
import type { DissectUiState } from '../../src/protocol/dissectWebview';
import type { DissectedUnit, DissectionSummary } from '../../src/protocol/types';

/**
 * The units the grid shows, in order: those of `ui.category` ('' = any) whose IoU is at least
 * `ui.minIou`, sorted by IoU (highest first; ties by unit number) or by unit number.
 */
export function visibleUnits(units: readonly DissectedUnit[], ui: Pick<DissectUiState, 'sort' | 'category' | 'minIou'>): DissectedUnit[] {
  const shown = units.filter((u) => (ui.category === '' || u.category === ui.category) && u.iou >= ui.minIou);
  return shown.sort(ui.sort === 'iou' ? (a, b) => b.iou - a.iou || a.unit - b.unit : (a, b) => a.unit - b.unit);
}

/** Categories to filter by: the probe's, in its order, then any a unit carries that the probe did not list. */
export function filterCategories(summary: Pick<DissectionSummary, 'probe' | 'units'>): string[] {
  const out = [...summary.probe.categories];
  for (const u of summary.units) if (!out.includes(u.category)) out.push(u.category);
  return out;
}

export interface ChartRow {
  category: string;
  units: number;
  concepts: number;
}

/** One row per probe category: interpretable units and distinct concepts among them (zeros kept, so absences show). */
export function chartRows(summary: Pick<DissectionSummary, 'probe' | 'categories'>): ChartRow[] {
  const byName = new Map(summary.categories.map((c) => [c.name, c]));
  const names = [...summary.probe.categories];
  for (const c of summary.categories) if (!names.includes(c.name)) names.push(c.name);
  return names.map((category) => {
    const c = byName.get(category);
    return { category, units: c?.units ?? 0, concepts: c?.concepts.length ?? 0 };
  });
}

/** IoUs are small (a detector starts at 0.04): three decimals below 0.1, so 0.040 and 0.041 (either side of the threshold) differ. */
export function formatIou(iou: number): string {
  if (!Number.isFinite(iou)) return String(iou);
  return Math.abs(iou) < 0.1 ? iou.toFixed(3) : iou.toFixed(2);
}

/** Activations and thresholds span orders of magnitude: three significant digits. */
export function formatActivation(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return Number(x.toPrecision(3)).toString();
}

export function formatMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
