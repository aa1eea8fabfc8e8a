/** A layer name that opens the layer's definition in the source (both panels post the same `openLayer`). */
import { el } from './dom';

type PostOpenLayer = (message: { type: 'openLayer'; layer: string }) => void;

/** A button styled as a link: focusable and keyboard-activated. */
export function layerLink(layer: string, post: PostOpenLayer): HTMLElement {
  return el('button', {
    class: 'link', testid: 'layer-link', text: layer,
    attrs: { type: 'button', 'data-layer': layer, title: `Go to the definition of ${layer}` },
    on: { click: () => post({ type: 'openLayer', layer }) },
  });
}
