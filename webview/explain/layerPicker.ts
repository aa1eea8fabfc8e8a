/**
 * The Grad-CAM layer picker, for models with hundreds of spatial layers: by default only the feature
 * layers (convolutions, activations, pooling, the default layer) with a "show all" box, and a filter that
 * matches the display name or the full name. Options show display names (a converted graph model's op path
 * without `StatefulPartitionedCall/<model>/`); their value and tooltip are the full name.
 */
import { displayLayerName } from '../../src/protocol/layerNames';
import { el } from '../shared/dom';
import { visibleLayers, type LayerPickerInput } from './layerFilter';

export function layerPicker(input: LayerPickerInput): HTMLElement {
  const id = 'select-layer-select';
  const hidden = input.all.length - (input.featured ? new Set(input.featured).size : input.all.length);
  let showAll = hidden <= 0;
  let filter = '';
  const slot = el('div', { class: 'layer-select-slot' });
  const count = el('span', { class: 'count', testid: 'layer-count' });

  const rebuild = (): void => {
    const names = visibleLayers(input, showAll, filter);
    count.textContent = `${names.length} of ${input.all.length} layers`;
    const control = el('vscode-single-select', { testid: 'layer-select', attrs: { id, 'aria-label': 'Grad-CAM layer' } },
      names.map((v) => el('vscode-option', {
        text: displayLayerName(v),
        attrs: { value: v, title: v, ...(v === input.selected ? { selected: '' } : {}) },
      })));
    control.addEventListener('change', () => {
      const value = (control as HTMLElement & { value: string }).value;
      if (value && value !== input.selected) input.onPick(value);
    });
    slot.replaceChildren(control);
  };

  const search = el('input', {
    testid: 'layer-filter',
    attrs: { type: 'search', placeholder: 'Filter layers', 'aria-label': 'Filter the Grad-CAM layers' },
    on: { input: (e) => { filter = (e.target as HTMLInputElement).value; rebuild(); } },
  });
  const all = el('input', {
    testid: 'layer-show-all',
    attrs: { type: 'checkbox', id: 'layer-show-all', ...(showAll ? { checked: '' } : {}), ...(hidden <= 0 ? { disabled: '' } : {}) },
    on: { change: (e) => { showAll = (e.target as HTMLInputElement).checked; rebuild(); } },
  });
  rebuild();
  return el('div', { class: 'control layer-filter' }, [
    el('label', { text: 'Grad-CAM layer', attrs: { for: id } }),
    search,
    slot,
    el('label', { class: 'all', attrs: { for: 'layer-show-all', title: 'Also list padding, batch norm, additions and the other spatial layers' } },
      [all, `all spatial layers (${hidden > 0 ? `+${hidden}` : 'none hidden'})`]),
    count,
  ]);
}
