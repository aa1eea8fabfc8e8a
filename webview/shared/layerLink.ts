/** A layer name that opens the layer's definition in the source (both panels post the same `openLayer`). */
import { displayLayerName } from '../../src/protocol/layerNames';
import { el } from './dom';

type PostOpenLayer = (message: { type: 'openLayer'; layer: string }) => void;

/**
 * A button styled as a link: focusable and keyboard-activated. It shows the layer's display name
 * (a converted graph model's op path without `StatefulPartitionedCall/<model>/`); the tooltip gives the full name.
 */
export function layerLink(layer: string, post: PostOpenLayer): HTMLElement {
  const shown = displayLayerName(layer);
  return el('button', {
    class: 'link', testid: 'layer-link', text: shown,
    attrs: { type: 'button', 'data-layer': layer, title: shown === layer ? `Go to the definition of ${layer}` : `${layer}\nGo to the definition of this layer` },
    on: { click: () => post({ type: 'openLayer', layer }) },
  });
}
