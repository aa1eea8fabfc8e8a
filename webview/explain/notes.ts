/** Honest notes in the Explain panel: about the image (much smaller than the model's input) and flat maps. */
import type { MapSummary } from '../../src/protocol/types';
import { el } from '../shared/dom';

/** The image's notes (src/engine/image/inputNotes.ts), shown under the input. */
export function inputNotes(notes: readonly string[] | undefined): HTMLElement[] {
  return (notes ?? []).map((text) => el('p', { class: 'input-note', testid: 'input-note', text, attrs: { role: 'note' } }));
}

/** The "near-uniform" label of a card's heading (src/engine/output/uniform.ts says when), or nothing. */
export function uniformBadge(summary: Pick<MapSummary, 'nearUniform'>): HTMLElement[] {
  return summary.nearUniform
    ? [el('span', { class: 'uniform-badge', testid: 'near-uniform', text: 'near-uniform', attrs: { title: summary.nearUniform } })]
    : [];
}

/** A near-uniform map is drawn without colour (opacity 0): stretching its rounding noise to full colour would show noise as evidence. */
export function overlayOpacity(summary: Pick<MapSummary, 'nearUniform'>, opacity: number): number {
  return summary.nearUniform ? 0 : opacity;
}
