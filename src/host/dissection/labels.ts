/**
 * Text the host shows for a layer's dissection: tree labels, the CodeLens, the hover.
 * Pure (no `vscode` import) so the wording and ordering are tested in Node.
 */
import type { DissectedUnit, DissectionSummary } from '../../protocol/types';
import { escapeMarkdown } from '../format';

/** How many concepts the CodeLens names before `…`. */
export const LENS_CONCEPTS = 3;

/** IoUs are small (a detector starts at 0.04): three decimals below 0.1, so 0.040 and 0.041 (either side of the threshold) differ. */
export function formatIou(iou: number): string {
  if (!Number.isFinite(iou)) return String(iou);
  return Math.abs(iou) < 0.1 ? iou.toFixed(3) : iou.toFixed(2);
}

/** `unit 12 · red (color) · IoU 0.21` */
export function unitLabel(u: Pick<DissectedUnit, 'unit' | 'label' | 'category' | 'iou'>): string {
  return `unit ${u.unit} · ${u.label} (${u.category}) · IoU ${formatIou(u.iou)}`;
}

/** Interpretable units first, each group by IoU (highest first), then by unit number. */
export function compareForTree(a: DissectedUnit, b: DissectedUnit): number {
  if (a.interpretable !== b.interpretable) return a.interpretable ? -1 : 1;
  return b.iou - a.iou || a.unit - b.unit;
}

export interface ConceptCount {
  label: string;
  category: string;
  /** Interpretable units labelled with it. */
  units: number;
  /** The best of their IoUs. */
  bestIou: number;
}

/** The distinct concepts of the interpretable units, most frequent first (ties: best IoU, then name). */
export function conceptsByFrequency(summary: Pick<DissectionSummary, 'units'>): ConceptCount[] {
  const byKey = new Map<string, ConceptCount>();
  for (const u of summary.units) {
    if (!u.interpretable) continue;
    const key = `${u.category}\u0000${u.label}`;
    const c = byKey.get(key);
    if (c) {
      c.units++;
      c.bestIou = Math.max(c.bestIou, u.iou);
    } else {
      byKey.set(key, { label: u.label, category: u.category, units: 1, bestIou: u.iou });
    }
  }
  return [...byKey.values()].sort((a, b) => b.units - a.units || b.bestIou - a.bestIou || a.label.localeCompare(b.label));
}

/** `14/64 units interpretable` */
export function interpretableText(summary: Pick<DissectionSummary, 'units' | 'interpretable'>): string {
  return `${summary.interpretable}/${summary.units.length} units interpretable`;
}

/** `14/64 units interpretable: red, stripes, circle, …` — the concepts' names, deduplicated across categories. */
export function lensTitle(summary: Pick<DissectionSummary, 'units' | 'interpretable'>, max = LENS_CONCEPTS): string {
  const names = [...new Set(conceptsByFrequency(summary).map((c) => c.label))];
  if (names.length === 0) return interpretableText(summary);
  return `${interpretableText(summary)}: ${names.slice(0, max).join(', ')}${names.length > max ? ', …' : ''}`;
}

/** Markdown for the hover on the layer's line: the lens text, then one line per category with units. */
export function dissectionMarkdown(summary: DissectionSummary): string {
  const concepts = conceptsByFrequency(summary);
  const lines = [
    `**Dissection** of ${escapeMarkdown(summary.layer)}: ${escapeMarkdown(lensTitle(summary))}`,
    '',
  ];
  // Categories in the probe's order; ones without interpretable units are left out.
  const categories = summary.categories.filter((c) => c.units > 0);
  for (const c of categories) {
    const names = concepts.filter((k) => k.category === c.name).map((k) => `${escapeMarkdown(k.label)}${k.units > 1 ? ` ×${k.units}` : ''}`);
    lines.push(`- ${escapeMarkdown(c.name)}: ${c.units} unit${c.units === 1 ? '' : 's'}, ${c.concepts.length} concept${c.concepts.length === 1 ? '' : 's'}${names.length ? ` (${names.join(', ')})` : ''}`);
  }
  if (categories.length === 0) lines.push(`- no unit reaches IoU ${formatIou(summary.params.iouThreshold)} on any concept`);
  lines.push('', `Probe: ${escapeMarkdown(summary.probe.name)}, ${summary.probe.images} images, ${summary.probe.concepts} concepts · quantile ${summary.params.quantile} · IoU threshold ${summary.params.iouThreshold}`);
  return lines.join('\n');
}
