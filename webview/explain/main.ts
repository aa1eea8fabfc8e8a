/**
 * The Explain panel's page. Flow: post `ready`; the host answers with `show` (the result, the
 * layers Grad-CAM can use, the state to persist); user actions post requests back. The DOM is rebuilt
 * on `show`; colormap and opacity changes only repaint the canvases (focus stays where it is).
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import {
  DEFAULT_UI,
  DIVERGING_COLORMAPS,
  SEQUENTIAL_COLORMAPS,
  type PanelState,
  type PanelUiState,
  type ToWebview,
} from '../../src/protocol/webview';
import { el } from '../shared/dom';
import { listenToHost } from '../shared/hostMessages';
import { layerLink } from '../shared/layerLink';
import { statusArea } from '../shared/status';
import { drawImage, drawLegend, drawOverlay } from './canvas';
import { divergingLut, sequentialLut, type Lut } from './colormap';
import { formatPreprocessing } from './format';
import { layerPicker } from './layerPicker';
import { inputNotes } from './notes';
import { mapCard, predictionList, type CardMap } from './view';
import { cardExtras, pendingCard, progressSection, setMapProgress } from './progressive';
import { persist, post, savedState } from './vscodeApi';

type Show = Extract<ToWebview, { type: 'show' }>;

interface Decoded {
  image: Uint8Array;
  maps: CardMap[];
}

let shown: Show | undefined;
let decoded: Decoded | undefined;
let state: PanelState | undefined = savedState();
let ui: PanelUiState = state?.ui ?? { ...DEFAULT_UI };
let luts = { sequential: sequentialLut(ui.sequential), diverging: divergingLut(ui.diverging) };
/** Repaints every map canvas and legend with the current ui (filled by render). */
let repaint: () => void = () => undefined;

const app = document.getElementById('app')!;
const statusRegions = statusArea(app);
const { status, errorBox } = statusRegions;

listenToHost<Show>(statusRegions, {
  show: (msg) => {
    const next = decode(msg);
    if (!next) {
      // It names values this page never got (a message lost on its way): the host sends everything again,
      // and the page keeps showing what it has meanwhile.
      post({ type: 'ready' });
      return;
    }
    shown = msg;
    state = { ...msg.state, ui };
    persist(state);
    decoded = next;
  },
  render,
  hasShown: () => shown !== undefined,
});

// A pending map's progress: only its card's line changes.
window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const msg = event.data;
  if (msg?.type === 'mapProgress') setMapProgress(app, msg.method, msg.fraction, msg.message);
});

post({ type: 'ready' });

/** The image and maps the host sent, by id: a later message names them without their values. */
const held = new Map<string, Uint8Array | Float32Array>();

/** The message's arrays, sent or held; undefined when it names one this page never got (then it asks for everything again). */
function decode(msg: Show): Decoded | undefined {
  const r = msg.result;
  const image = (r.image.rgba ?? held.get(r.image.id)) as Uint8Array | undefined;
  const maps = r.maps.map((m) => ({ summary: m.summary, width: m.width, height: m.height, values: (m.display ?? held.get(m.id)) as Float32Array | undefined }));
  held.clear();
  if (!image || maps.some((m) => !m.values)) return undefined;
  held.set(r.image.id, image);
  for (const [i, m] of maps.entries()) held.set(r.maps[i]!.id, m.values!);
  return { image, maps: maps.map((m) => ({ ...m, values: m.values! })) };
}

function updateUi(next: Partial<PanelUiState>): void {
  ui = { ...ui, ...next };
  luts = { sequential: sequentialLut(ui.sequential), diverging: divergingLut(ui.diverging) };
  if (state) {
    state = { ...state, ui };
    persist(state);
  }
  post({ type: 'ui', ui });
  repaint();
}

function lutFor(signed: boolean): Lut {
  return signed ? luts.diverging : luts.sequential;
}

function render(): void {
  app.replaceChildren();
  if (!shown || !decoded) {
    app.append(el('header', {}, [status, errorBox]), el('p', { class: 'placeholder', text: 'No analysis yet.' }));
    return;
  }
  const { result } = shown;
  const s = result.summary;
  const top = s.predictions[0];
  const target = decoded.maps[0]?.summary;
  // Before the first map: the class the maps will explain, from the predictions.
  const upcoming = target ? undefined : s.predictions.find((p) => p.index === (state?.classIndex ?? top?.index));

  const header = el('header', {}, [
    el('h1', {}, [
      el('span', { class: 'top-label', testid: 'top-label', text: top ? top.label : '(no prediction)' }),
      ...(top ? [el('span', { class: 'top-prob', text: ` ${(top.probability * 100).toFixed(1)} %` })] : []),
    ]),
    el('p', { class: 'subtitle', testid: 'subtitle', text: `${baseName(s.image)} · ${shown.modelName ?? baseName(s.model)} · ${s.backend}`, attrs: { title: s.model } }),
    ...(target ? [el('p', { class: 'target' }, [
      'Explaining ',
      el('strong', { testid: 'target-label', text: target.label }),
      ` (class ${target.targetClass}, ${target.target} ${target.logit.toFixed(3)}, p ${(target.probability * 100).toFixed(1)} %)`,
    ])] : []),
    ...(upcoming ? [el('p', { class: 'target' }, [
      'Explaining ', el('strong', { testid: 'target-label', text: upcoming.label }),
      ` (class ${upcoming.index}, logit ${upcoming.logit.toFixed(3)}, p ${(upcoming.probability * 100).toFixed(1)} %)`,
    ])] : []),
    ...(shown.progress ? [progressSection(shown.progress, post)] : []),
    status,
    errorBox,
  ]);

  const input = el('canvas', { class: 'input-image', testid: 'input-image', attrs: { role: 'img', 'aria-label': `model input ${result.image.width}×${result.image.height}` } });
  input.width = result.image.width;
  input.height = result.image.height;
  input.style.width = `${result.image.width * Math.max(1, Math.floor(224 / result.image.width))}px`;
  input.classList.toggle('pixelated', result.image.width < 224);
  drawImage(input, decoded.image);

  const side = el('aside', { class: 'side' }, [
    el('section', { class: 'input' }, [
      el('h2', { text: 'Input' }), input,
      ...(s.preprocessing ? [el('p', {
        class: 'preprocessing', testid: 'preprocessing', text: formatPreprocessing(s.preprocessing),
        attrs: { title: 'How pixels become the model\'s input: x = ((pixel/255)·(max−min) + min − mean) / std (loupe.json, or the loupe.preprocessing setting)' },
      })] : []),
      ...inputNotes(s.inputNotes),
      ...(shown.preprocessingNote ? [sidecarNote(shown.preprocessingNote)] : []),
    ]),
    el('section', { class: 'predictions' }, [
      el('h2', { text: 'Predictions' }),
      predictionList(s.predictions, target?.targetClass ?? upcoming?.index, (classIndex) => post({ type: 'explainClass', classIndex })),
    ]),
    controls(),
  ]);

  const cards: Array<{ redraw: () => void }> = [];
  const progress = shown.progress;
  const pending = progress?.pending ?? [];
  const complete = !pending.some((p) => p.status === 'queued' || p.status === 'running');
  // data-complete: every map asked for is on screen (or stopped); what tests and screen readers wait for.
  // data-rendered-ms: when this state was drawn, in ms since the page opened (how long a restored panel took).
  const grid = el('section', { class: 'maps', testid: 'maps', attrs: {
    'aria-label': 'Attribution maps', 'aria-busy': String(!complete), 'data-complete': String(complete), 'data-rendered-ms': String(Math.round(performance.now())),
  } });
  // Cards in the order the methods were asked for, whether computed yet or not (the layout does not jump).
  const order = [...(state?.methods ?? []), ...decoded.maps.map((m) => m.summary.method), ...pending.map((p) => p.method)];
  for (const method of [...new Set(order)]) {
    const map = decoded.maps.find((m) => m.summary.method === method);
    const waiting = pending.find((p) => p.method === method);
    if (map) {
      const card = mapCard(map, {
        image: decoded.image,
        lut: () => lutFor(map.summary.signed),
        opacity: () => ui.opacity,
        draw: drawOverlay,
        legend: drawLegend,
        post,
      });
      if (progress) cardExtras(card.node, map.summary, progress, post);
      cards.push(card);
      grid.append(card.node);
    } else if (waiting) {
      grid.append(pendingCard(waiting, post));
    }
  }
  if (decoded.maps.length === 0 && pending.length === 0) grid.append(el('p', { class: 'placeholder', text: 'No maps were computed.' }));

  const skipped = s.skipped.length
    ? el('section', { class: 'skipped' }, [
      el('h2', { text: 'Not computed' }),
      el('ul', {}, s.skipped.map((k) => el('li', { testid: `skipped-${k.method}` }, [el('strong', { text: k.method }), `: ${k.reason}`]))),
    ])
    : undefined;

  app.append(header, el('div', { class: 'layout' }, [side, el('div', { class: 'main' }, [grid, ...(skipped ? [skipped] : [])])]));
  repaint = () => cards.forEach((c) => c.redraw());
  repaint();
}

function select(label: string, testid: string, values: readonly string[], selected: string | undefined, onChange: (value: string) => void): HTMLElement {
  const id = `select-${testid}`;
  const control = el('vscode-single-select', { testid, attrs: { id, 'aria-label': label } },
    values.map((v) => el('vscode-option', { text: v, attrs: { value: v, ...(v === selected ? { selected: '' } : {}) } })));
  control.addEventListener('change', () => {
    const value = (control as HTMLElement & { value: string }).value;
    if (value && value !== selected) {
      selected = value;
      onChange(value);
    }
  });
  return el('div', { class: 'control' }, [el('label', { text: label, attrs: { for: id } }), control]);
}

function controls(): HTMLElement {
  const opacityId = 'opacity-input';
  const opacity = el('input', {
    testid: 'opacity',
    attrs: { id: opacityId, type: 'range', min: '0', max: '100', step: '5', value: String(Math.round(ui.opacity * 100)), 'aria-valuetext': `${Math.round(ui.opacity * 100)} %` },
  });
  const opacityValue = el('span', { class: 'value', text: `${Math.round(ui.opacity * 100)} %` });
  opacity.addEventListener('input', () => {
    const v = Number(opacity.value) / 100;
    opacityValue.textContent = `${Math.round(v * 100)} %`;
    opacity.setAttribute('aria-valuetext', `${Math.round(v * 100)} %`);
    updateUi({ opacity: v });
  });

  const section = el('section', { class: 'controls' }, [
    el('h2', { text: 'Display' }),
    select('Colormap (magnitude)', 'colormap-sequential', SEQUENTIAL_COLORMAPS, ui.sequential,
      (v) => updateUi({ sequential: v as PanelUiState['sequential'] })),
    select('Colormap (signed)', 'colormap-diverging', DIVERGING_COLORMAPS, ui.diverging,
      (v) => updateUi({ diverging: v as PanelUiState['diverging'] })),
    el('div', { class: 'control' }, [el('label', { text: 'Opacity', attrs: { for: opacityId } }), el('div', { class: 'range' }, [opacity, opacityValue])]),
  ]);

  const methodsShown = new Set(decoded?.maps.map((m) => m.summary.method));
  const run = el('section', { class: 'controls' }, [el('h2', { text: 'Analysis' })]);
  if (shown && shown.layers.length > 0) {
    run.append(layerPicker({ all: shown.layers, featured: shown.featureLayers, selected: shown.layer, onPick: (layer) => post({ type: 'setLayer', layer }) }));
    if (shown.layer) {
      const layer = shown.layer;
      run.append(el('p', { class: 'hint' }, ['Definition: ', layerLink(layer, post)]));
    }
  }
  const occlusion = el('vscode-button', {
    testid: 'run-occlusion',
    text: methodsShown.has('occlusion') ? 'Recompute occlusion' : 'Occlusion',
    attrs: { title: 'Occlude windows of the image and measure the score drop (one forward pass per window)' },
    on: { click: () => post({ type: 'runOcclusion' }) },
  });
  run.append(occlusion);
  return el('div', {}, [section, run]);
}

/** The model has no loupe.json: what Loupe assumed, and a button to write one. */
function sidecarNote(note: string): HTMLElement {
  return el('div', { class: 'sidecar-note', testid: 'sidecar-note', attrs: { role: 'note' } }, [
    el('p', { text: note }),
    el('vscode-button', {
      testid: 'create-sidecar', text: 'Create loupe.json…',
      attrs: { secondary: '', title: 'Pick the preprocessing the model was trained with (and its labels file); Loupe writes loupe.json beside the model' },
      on: { click: () => post({ type: 'createSidecar' }) },
    }),
  ]);
}

function baseName(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

render();
