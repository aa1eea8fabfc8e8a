/** The Dissection panel's building blocks: header, category chart, grid controls, unit cards, unit detail. */
import type { DissectUiState, DissectView, FromDissectWebview } from '../../src/protocol/dissectWebview';
import type { DissectedUnit } from '../../src/protocol/types';
import { el } from '../shared/dom';
import { layerLink } from '../shared/layerLink';
import { chartRows, formatActivation, formatIou, formatMs } from './units';

type Post = (message: FromDissectWebview) => void;

export function header(view: DissectView, post: Post, extra: Node[]): HTMLElement {
  const s = view.summary;
  // The built-in probe's name already says its size ("built-in (300 images, 112×112, seed 1)").
  const images = s.probe.name.includes(`${s.probe.images} images`) ? '' : `, ${s.probe.images} images`;
  const probe = `${s.probe.name}${images}, ${s.probe.concepts} concepts in ${s.probe.categories.length} categories`;
  const params = `quantile ${s.params.quantile} · IoU > ${s.params.iouThreshold} · top ${s.params.topImages} images`;
  const run = `${s.backend} · ${formatMs(s.ms)}${s.cached ? ' · from cache' : ''}`;
  return el('header', {}, [
    el('h1', {}, ['Dissection of ', layerLink(s.layer, post), el('span', { class: 'shape', text: ` ${s.layerShape.join('×')}` })]),
    el('dl', { class: 'facts', testid: 'facts' }, [
      el('dt', { text: 'Model' }), el('dd', { text: view.modelName, attrs: { title: s.model } }),
      el('dt', { text: 'Probe' }), el('dd', { testid: 'probe', text: probe }),
      el('dt', { text: 'Parameters' }), el('dd', { testid: 'params', text: params }),
      el('dt', { text: 'Run' }), el('dd', { testid: 'run', text: run }),
    ]),
    el('p', { class: 'headline', testid: 'interpretable' }, [
      el('strong', { text: `${s.interpretable}/${s.units.length}` }), ' units interpretable',
    ]),
    ...extra,
  ]);
}

/** Two bars per category: interpretable units and distinct concepts, on one scale (the largest count). */
export function categoryChart(view: DissectView): HTMLElement {
  const rows = chartRows(view.summary);
  const max = Math.max(1, ...rows.map((r) => Math.max(r.units, r.concepts)));
  const bar = (kind: 'units' | 'concepts', n: number): HTMLElement => {
    const fill = el('span', { class: `fill ${kind}` });
    fill.style.width = `${(100 * n) / max}%`;
    return el('div', { class: 'bar-row' }, [
      el('span', { class: 'bar', attrs: { 'aria-hidden': 'true' } }, [fill]),
      el('span', { class: 'count', text: `${n} ${kind === 'units' ? (n === 1 ? 'unit' : 'units') : (n === 1 ? 'concept' : 'concepts')}` }),
    ]);
  };
  return el('section', { class: 'chart', testid: 'chart', attrs: { 'aria-label': 'Interpretable units and unique concepts per category' } }, [
    el('h2', { text: 'Per category' }),
    el('div', { class: 'legend' }, [
      el('span', { class: 'swatch units', attrs: { 'aria-hidden': 'true' } }), ' interpretable units ',
      el('span', { class: 'swatch concepts', attrs: { 'aria-hidden': 'true' } }), ' unique concepts',
    ]),
    ...rows.map((r) => el('div', { class: 'chart-row', testid: `chart-${r.category}`, attrs: { 'data-category': r.category, 'data-units': String(r.units), 'data-concepts': String(r.concepts) } }, [
      el('span', { class: 'category', text: r.category }),
      el('div', { class: 'bars' }, [bar('units', r.units), bar('concepts', r.concepts)]),
    ])),
  ]);
}

export interface ControlsDeps {
  ui: DissectUiState;
  categories: string[];
  onChange(next: Partial<DissectUiState>): void;
}

/** Sort and filters: native controls (keyboard and screen-reader friendly, and drivable in tests). */
export function gridControls(deps: ControlsDeps): HTMLElement {
  const sort = el('select', { testid: 'sort', attrs: { id: 'sort-select' } }, [
    el('option', { text: 'IoU (highest first)', attrs: { value: 'iou' } }),
    el('option', { text: 'Unit number', attrs: { value: 'unit' } }),
  ]);
  sort.value = deps.ui.sort;
  sort.addEventListener('change', () => deps.onChange({ sort: sort.value === 'unit' ? 'unit' : 'iou' }));

  const category = el('select', { testid: 'category', attrs: { id: 'category-select' } }, [
    el('option', { text: 'All categories', attrs: { value: '' } }),
    ...deps.categories.map((c) => el('option', { text: c, attrs: { value: c } })),
  ]);
  category.value = deps.categories.includes(deps.ui.category) ? deps.ui.category : '';
  category.addEventListener('change', () => deps.onChange({ category: category.value }));

  const minIou = el('input', {
    testid: 'min-iou',
    attrs: { id: 'min-iou-input', type: 'number', min: '0', max: '1', step: '0.01', value: String(deps.ui.minIou) },
  });
  minIou.addEventListener('input', () => {
    const v = Number(minIou.value);
    if (minIou.value !== '' && Number.isFinite(v) && v >= 0 && v <= 1) deps.onChange({ minIou: v });
  });

  const field = (label: string, id: string, control: HTMLElement): HTMLElement =>
    el('div', { class: 'control' }, [el('label', { text: label, attrs: { for: id } }), control]);
  return el('div', { class: 'grid-controls' }, [
    field('Sort by', 'sort-select', sort),
    field('Category', 'category-select', category),
    field('Minimum IoU', 'min-iou-input', minIou),
  ]);
}

export function unitCard(unit: DissectedUnit, strip: string, selected: boolean, open: (unit: number) => void, picture = ''): HTMLElement {
  const card = el('button', {
    class: `unit-card${unit.interpretable ? ' interpretable' : ' uninterpretable'}${selected ? ' selected' : ''}`,
    testid: `unit-${unit.unit}`,
    attrs: {
      type: 'button',
      'data-unit': String(unit.unit),
      'aria-pressed': String(selected),
      title: `unit ${unit.unit}: ${unit.label} (${unit.category}), IoU ${formatIou(unit.iou)}${unit.interpretable ? '' : ' — not interpretable'}`,
    },
    on: { click: () => open(unit.unit) },
  }, [
    el('span', { class: 'unit-head' }, [
      el('span', { class: 'unit-no', text: `unit ${unit.unit}` }),
      el('span', { class: 'iou', testid: 'unit-iou', text: formatIou(unit.iou) }),
    ]),
    el('span', { class: 'concept', testid: 'unit-label', text: unit.label }),
    el('span', { class: 'category', testid: 'unit-category', text: unit.interpretable ? unit.category : `${unit.category} · not interpretable` }),
  ]);
  // feature visualisation: the unit's picture before its probe images
  const images = el('span', { class: 'card-images' });
  if (picture) images.append(el('img', { class: 'picture', testid: 'unit-picture', attrs: { src: picture, alt: `feature visualization of unit ${unit.unit}`, loading: 'lazy' } }));
  if (strip) images.append(el('img', { class: 'strip', attrs: { src: strip, alt: `top images of unit ${unit.unit}`, loading: 'lazy' } }));
  if (images.childNodes.length) card.append(images);
  return card;
}

/** One unit in full: the big strip, its threshold, top activations and runners-up. */
export function unitDetail(unit: DissectedUnit, strip: string, iouThreshold: number, close: () => void,
  picture?: { uri: string; visualize: () => void }): HTMLElement {
  const back = el('button', { class: 'link', testid: 'detail-close', text: '← All units', attrs: { type: 'button' }, on: { click: close } });
  const facts = el('dl', { class: 'meta' }, [
    el('dt', { text: 'IoU' }), el('dd', { testid: 'detail-iou', text: `${unit.iou.toFixed(4)} (${unit.interpretable ? 'above' : 'not above'} the threshold ${iouThreshold})` }),
    el('dt', { text: 'Threshold T' }), el('dd', { testid: 'detail-threshold', text: formatActivation(unit.threshold) }),
  ]);
  const top = el('ol', { class: 'top-list', testid: 'detail-top' }, unit.top.map((t) =>
    el('li', { text: `probe image ${t.image} · max activation ${formatActivation(t.activation)}` })));
  const runners = unit.runnersUp.length
    ? el('table', { class: 'runners', testid: 'detail-runners' }, [
      el('thead', {}, [el('tr', {}, [el('th', { text: 'Concept' }), el('th', { text: 'Category' }), el('th', { text: 'IoU' })])]),
      el('tbody', {}, unit.runnersUp.map((r) => el('tr', {}, [el('td', { text: r.label }), el('td', { text: r.category }), el('td', { text: formatIou(r.iou) })]))),
    ])
    : el('p', { class: 'hint', text: 'No other concept overlaps this unit.' });
  return el('section', { class: 'detail', testid: 'unit-detail', attrs: { 'data-unit': String(unit.unit), 'aria-label': `unit ${unit.unit}` } }, [
    back,
    el('h2', { class: 'detail-title' }, [`Unit ${unit.unit}: `, el('span', { testid: 'detail-label', text: unit.label }), ` (${unit.category})`]),
    el('div', { class: 'detail-images' }, [
      ...(picture ? [featureVisFigure(unit.unit, picture.uri, picture.visualize)] : []),
      ...(strip ? [el('img', { class: 'strip big', testid: 'detail-strip', attrs: { src: strip, alt: `top ${unit.top.length} probe images of unit ${unit.unit}, its mask outlined` } })] : []),
    ]),
    facts,
    el('div', { class: 'detail-columns' }, [
      el('div', {}, [el('h3', { text: 'Top activations' }), top]),
      el('div', {}, [el('h3', { text: 'Runners-up' }), runners]),
    ]),
  ]);
}

/** Feature visualisation: the unit's picture, or a button that renders it. */
function featureVisFigure(unit: number, uri: string, visualize: () => void): HTMLElement {
  return el('figure', { class: 'feature-vis', testid: 'detail-picture' }, [
    uri
      ? el('img', { class: 'picture big', attrs: { src: uri, alt: `feature visualization of unit ${unit}` } })
      : el('button', { class: 'visualize', testid: 'detail-visualize', text: 'Visualize unit', attrs: { type: 'button', title: 'Render what this unit responds to most (Lucid\'s feature visualization)' }, on: { click: visualize } }),
    el('figcaption', { text: uri ? 'feature visualization' : 'no feature visualization yet' }),
  ]);
}
