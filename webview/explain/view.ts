/** The panel's building blocks: the prediction list and one card per map. */
import type { MapSummary, Prediction } from '../../src/protocol/types';
import type { FromWebview } from '../../src/protocol/webview';
import { el } from '../shared/dom';
import { layerLink } from '../shared/layerLink';
import { newCanvas, pngDataUrl } from './canvas';
import { clipScale, type Lut } from './colormap';
import { overlayOpacity, uniformBadge } from './notes';
import { figureRows, formatMs, formatNumber, formatParams, formatPercent, METHOD_TITLES } from './format';

export interface CardMap {
  summary: MapSummary;
  width: number;
  height: number;
  values: Float32Array;
}

type Post = (message: FromWebview) => void;

/** One row per prediction; a row is a button that explains its class. Test ids count rows from 0 (top-1). */
export function predictionList(predictions: Prediction[], targetClass: number | undefined, explain: (classIndex: number) => void): HTMLElement {
  return el('ol', { class: 'prediction-list' }, predictions.map((p, rank) => {
    const fill = el('span', { class: 'fill' });
    fill.style.width = `${Math.max(0, Math.min(100, p.probability * 100))}%`;
    const current = p.index === targetClass;
    return el('li', {}, [el('button', {
      class: `prediction${current ? ' current' : ''}`,
      testid: `prediction-${rank}`,
      attrs: {
        type: 'button',
        'data-class-index': String(p.index),
        'aria-pressed': String(current),
        title: current ? `Maps explain ${p.label}` : `Explain class ${p.label} (${p.index})`,
      },
      on: { click: () => explain(p.index) },
    }, [
      el('span', { class: 'label', text: p.label }),
      el('span', { class: 'bar', attrs: { 'aria-hidden': 'true' } }, [fill]),
      el('span', { class: 'prob', text: formatPercent(p.probability) }),
    ])]);
  }));
}

export interface CardDeps {
  image: Uint8Array;
  lut(): Lut;
  opacity(): number;
  draw(canvas: HTMLCanvasElement, image: Uint8Array, values: Float32Array, signed: boolean, lut: Lut, opacity: number): void;
  legend(canvas: HTMLCanvasElement, lut: Lut): void;
  post: Post;
}

export function mapCard(map: CardMap, deps: CardDeps): { node: HTMLElement; redraw: () => void } {
  const s = map.summary;
  const method = s.method;
  const title = METHOD_TITLES[method] ?? method;
  const canvas = newCanvas(map.width, map.height, `map-${method}-canvas`);
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${title} map for ${s.label}`);

  const scale = clipScale(map.values);
  const legend = el('canvas', { class: 'legend', attrs: { 'aria-hidden': 'true' } });
  legend.width = 128;
  legend.height = 8;
  const legendText = s.signed
    ? [`−${formatNumber(scale)}`, '0', `+${formatNumber(scale)}`]
    : ['0', '', `${formatNumber(scale)}`];

  const heading = el('h3', {}, [title]);
  if (s.layer) heading.append(' at ', layerLink(s.layer, deps.post));
  heading.append(...uniformBadge(s));

  const meta = el('dl', { class: 'meta' });
  const row = (term: string, value: string, tooltip = ''): void => {
    meta.append(el('dt', { text: term, ...(tooltip ? { attrs: { title: tooltip } } : {}) }), el('dd', { text: value }));
  };
  const params = formatParams(s.params);
  if (params) row('Parameters', params);
  row('Time', `${formatMs(s.ms)} (${s.backend})`);
  row('Target', `${s.label} · ${s.target}`);
  for (const [label, value, tooltip] of figureRows(s)) row(label, value, tooltip);

  const notes = s.notes.length ? el('ul', { class: 'notes' }, s.notes.map((n) => el('li', { text: n }))) : undefined;

  const exportPng = el('vscode-button', {
    testid: `export-png-${method}`, text: 'PNG',
    attrs: { secondary: '', title: `Save the ${title} overlay as a PNG` },
    on: { click: () => deps.post({ type: 'exportPng', method, dataUrl: pngDataUrl(canvas) }) },
  });
  const exportJson = el('vscode-button', {
    testid: `export-json-${method}`, text: 'JSON',
    attrs: { secondary: '', title: `Save the ${title} summary and raw map as JSON` },
    on: { click: () => deps.post({ type: 'exportJson', method }) },
  });

  const node = el('article', { class: 'map-card', testid: `map-${method}`, attrs: { 'data-method': method, 'aria-label': title } }, [
    heading,
    canvas,
    el('div', { class: 'legend-row' }, [legend, el('div', { class: 'legend-text' }, legendText.map((t) => el('span', { text: t })))]),
    meta,
    ...(notes ? [notes] : []),
    el('div', { class: 'actions' }, [exportPng, exportJson]),
  ]);

  const redraw = (): void => {
    const lut = deps.lut();
    deps.draw(canvas, deps.image, map.values, s.signed, lut, overlayOpacity(s, deps.opacity()));
    deps.legend(legend, lut);
  };
  return { node, redraw };
}
