/** Which layers the Grad-CAM picker lists (pure: no DOM, tested in Node). */
import { displayLayerName } from '../../src/protocol/layerNames';

export interface LayerPickerInput {
  /** Every spatial layer (the host accepts any of them). */
  all: readonly string[];
  /** The layers offered before "show all"; every layer when undefined. */
  featured: readonly string[] | undefined;
  /** The layer the maps shown use. */
  selected: string | undefined;
  onPick(layer: string): void;
}

/** The layers to list for `filter` (case-insensitive, on the display or full name); the selected layer is always kept. */
export function visibleLayers(input: Pick<LayerPickerInput, 'all' | 'featured' | 'selected'>, showAll: boolean, filter: string): string[] {
  const featured = new Set(input.featured ?? input.all);
  const needle = filter.trim().toLowerCase();
  return input.all.filter((name) => name === input.selected || (
    (showAll || featured.has(name))
    && (!needle || name.toLowerCase().includes(needle) || displayLayerName(name).toLowerCase().includes(needle))));
}
