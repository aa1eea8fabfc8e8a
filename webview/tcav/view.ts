/** The TCAV panel's building blocks: the header and one section per layer, a row and a small SVG chart per concept. */
import type { TcavConceptResult, TcavLayerResult, TcavRun } from '../../src/protocol/tcav';
import type { FromTcavWebview, TcavView } from '../../src/protocol/tcavWebview';
import { el } from '../shared/dom';
import { layerLink } from '../shared/layerLink';
import { formatMs, formatP, scoreX } from './format';

type Post = (message: FromTcavWebview) => void;

const SVG = 'http://www.w3.org/2000/svg';
const CHART = { width: 320, height: 34, left: 6, plot: 308 };

function svg(tag: string, attrs: Record<string, string | number>, children: Element[] = []): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

/** One lane of the chart: a bar to the mean, a whisker of ± one standard deviation, a dot per run. */
function lane(runs: readonly TcavRun[], mean: number, std: number, top: number, cls: string): SVGElement[] {
  const x = (s: number) => scoreX(s, CHART.left, CHART.plot);
  const mid = top + 6;
  return [
    svg('rect', { class: `bar ${cls}`, x: x(0), y: top + 1, width: Math.max(0, x(mean) - x(0)), height: 10 }),
    svg('line', { class: 'whisker', x1: x(mean - std), x2: x(mean + std), y1: mid, y2: mid }),
    ...runs.map((r, i) => svg('circle', { class: `run ${cls}`, cx: x(r.score), cy: top + 3 + (i % 3) * 3, r: 1.6 })),
  ];
}

function conceptChart(c: TcavConceptResult, random: TcavLayerResult['random']): SVGElement {
  const x = (s: number) => scoreX(s, CHART.left, CHART.plot);
  return svg('svg', {
    class: 'mini-chart', width: CHART.width, height: CHART.height, viewBox: `0 0 ${CHART.width} ${CHART.height}`, role: 'img',
    'aria-label': `${c.concept}: mean ${c.mean.toFixed(2)} ± ${c.std.toFixed(2)} over ${c.runs.length} runs; random runs ${random.mean.toFixed(2)} ± ${random.std.toFixed(2)}`,
  }, [
    ...[0, 0.5, 1].map((t) => svg('line', { class: t === 0.5 ? 'grid half' : 'grid', x1: x(t), x2: x(t), y1: 0, y2: CHART.height })),
    ...lane(c.runs, c.mean, c.std, 2, 'concept'),
    ...lane(random.runs, random.mean, random.std, 19, 'random'),
  ]);
}

function conceptRow(layer: TcavLayerResult, c: TcavConceptResult, minAccuracy: number): HTMLElement {
  const verdict = c.significant ? 'significant' : 'not significant';
  return el('div', {
    class: `concept-row${c.significant ? '' : ' ns'}`,
    testid: 'concept-row',
    attrs: {
      role: 'row', 'data-layer': layer.layer, 'data-concept': c.concept, 'data-mean': String(c.mean), 'data-std': String(c.std),
      'data-p': c.pValue === null ? '' : String(c.pValue), 'data-significant': String(c.significant), 'data-accuracy': String(c.cavAccuracy),
    },
  }, [
    el('span', { class: 'concept', attrs: { role: 'cell', title: c.source }, text: c.concept }),
    el('span', { class: 'chart-cell', attrs: { role: 'cell' } }, [conceptChart(c, layer.random)]),
    el('span', { class: 'score', testid: 'score', attrs: { role: 'cell' }, text: `${c.mean.toFixed(2)} ± ${c.std.toFixed(2)}` }),
    el('span', { class: 'p', testid: 'p-value', attrs: { role: 'cell' }, text: `p ${formatP(c.pValue)}` }),
    el('span', { class: `verdict ${c.significant ? 'yes' : 'no'}`, testid: 'verdict', attrs: { role: 'cell' }, text: verdict }),
    el('span', {
      class: `accuracy${c.lowAccuracy ? ' low' : ''}`, testid: 'accuracy', attrs: { role: 'cell', title: c.lowAccuracy ? `held-out accuracy below ${minAccuracy}: the layer does not separate this concept from random images, whatever its score` : 'held-out accuracy of the CAVs' },
      text: `CAV acc. ${c.cavAccuracy.toFixed(2)}${c.lowAccuracy ? ' ⚠' : ''}`,
    }),
  ]);
}

export function layerSection(layer: TcavLayerResult, minAccuracy: number, post: Post): HTMLElement {
  const r = layer.random;
  return el('section', { class: 'layer', testid: 'layer', attrs: { 'data-layer': layer.layer, 'aria-label': `layer ${layer.layer}` } }, [
    el('h2', {}, [layerLink(layer.layer, post), el('span', { class: 'shape', text: ` ${layer.shape.join('×')} · ${layer.dims.toLocaleString('en-US')} values per image` })]),
    el('div', { class: 'rows', attrs: { role: 'table', 'aria-label': `concepts at ${layer.layer}` } }, [
      ...layer.concepts.map((c) => conceptRow(layer, c, minAccuracy)),
      el('div', { class: 'random-row', testid: 'random-row', attrs: { role: 'row' } }, [
        el('span', { class: 'concept', attrs: { role: 'cell' }, text: 'random runs' }),
        el('span', { class: 'hint', attrs: { role: 'cell' }, text: `${r.runs.length} random-vs-random CAVs: ${r.mean.toFixed(2)} ± ${r.std.toFixed(2)}, CAV acc. ${r.cavAccuracy.toFixed(2)} (the grey lane of each chart)` }),
      ]),
    ]),
  ]);
}

export function header(view: TcavView, post: Post, extra: Node[]): HTMLElement {
  const r = view.result;
  const p = r.params;
  const random = r.random.source === 'builtin' ? `built-in random scenes (${r.random.images})`
    : `${r.random.source} (${r.random.asGiven ? `${r.random.sets} sets as given` : `${r.random.images} images`})`;
  const exportButton = (format: 'csv' | 'json' | 'png') => el('vscode-button', {
    testid: `export-${format}`, text: format.toUpperCase(),
    attrs: { secondary: '', title: `Save tcav.${format}` }, on: { click: () => post({ type: 'export', format }) },
  });
  return el('header', {}, [
    el('h1', { testid: 'title' }, [`TCAV for class "${r.classLabel}"`, el('span', { class: 'shape', text: ` (${r.classIndex})` })]),
    el('p', { class: 'what', testid: 'what', text: `Score: the fraction of the ${r.classImages.images} class images whose directional derivative of the class logit along the concept's CAV is positive, over ${p.runs} runs.` }),
    el('dl', { class: 'facts', testid: 'facts' }, [
      el('dt', { text: 'Model' }), el('dd', { text: view.modelName, attrs: { title: r.model } }),
      el('dt', { text: 'Class images' }), el('dd', { text: `${r.classImages.images} in ${r.classImages.path}` }),
      el('dt', { text: 'Random' }), el('dd', { text: random }),
      el('dt', { text: 'CAVs' }), el('dd', { testid: 'params', text: `${p.cav}, up to ${p.imagesPerSet} images per set, 1/3 held out, seed ${p.seed}` }),
      el('dt', { text: 'Significance' }), el('dd', { testid: 'significance', text: `two-sided Student t-test against the random runs; p < ${p.alpha}/${p.tests} = ${formatP(p.correctedAlpha)} (Bonferroni over ${p.tests} concept × layer tests)` }),
      el('dt', { text: 'Run' }), el('dd', { testid: 'run', text: `${r.backend} · ${formatMs(r.ms)}${r.cached ? ' · from cache' : ''}` }),
    ]),
    el('div', { class: 'header-actions' }, [el('span', { class: 'hint', text: 'Export ' }), exportButton('csv'), exportButton('json'), exportButton('png'),
      el('vscode-button', { testid: 'recompute', text: 'Recompute', attrs: { secondary: '', title: 'Run the same test again, ignoring the cache' }, on: { click: () => post({ type: 'recompute' }) } })]),
    ...(r.notes.length ? [el('ul', { class: 'notes', testid: 'notes' }, r.notes.map((n) => el('li', { text: n })))] : []),
    ...extra,
  ]);
}
