/**
 * The Building Blocks page (Olah et al. 2018) for one image at one layer. Flow: post `ready`; the host answers
 * with `show`. Hovering the picture picks a position of the layer (clicking pins it): the semantic dictionary
 * lists that position's strongest channels with their pictures, and the layer → later layer overlay follows
 * the later layer's position under the pointer. Rerunning with another class, layer or group count asks the host.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { BlocksPanelState, BlocksRequestState, ToBlocksWebview } from '../../src/protocol/blocksWebview';
import { base64ToBytes } from '../explain/decode';
import { divergingLut, sequentialLut } from '../explain/colormap';
import { drawOverlay, newCanvas, pngDataUrl } from '../explain/canvas';
import { el } from '../shared/dom';
import { listenToHost } from '../shared/hostMessages';
import { layerLink } from '../shared/layerLink';
import { statusArea } from '../shared/status';
import { extremeChannels, groupChannels, groupColour, groupOverlay, positionAt, toPicture } from './maps';
import { persist, post, savedState } from './vscodeApi';

type Show = Extract<ToBlocksWebview, { type: 'show' }>;
type Overlay = 'activation' | 'class' | 'layer' | 'groups';

let shown: Show | undefined;
let state: BlocksPanelState | undefined = savedState();
let overlay: Overlay = 'class';
let attribution: 'integrated' | 'simple' = 'integrated';
let focusGroup: number | undefined;
let hover: { y: number; x: number } | undefined;
let pinned: { y: number; x: number } | undefined;
/** The later layer's position under the pointer (layer → later layer overlay). */
let later: { y: number; x: number } | undefined;
let grid: Extract<ToBlocksWebview, { type: 'grid' }> | undefined;

const app = document.getElementById('app')!;
const statusRegions = statusArea(app);
const { status, errorBox } = statusRegions;
const seq = sequentialLut('inferno');
const div = divergingLut('RdBu');
const dictionaryHost = el('section', { class: 'dictionary', testid: 'dictionary', attrs: { 'aria-label': 'Semantic dictionary', 'aria-live': 'polite' } });
let canvas: HTMLCanvasElement | undefined;
let picture: Uint8Array | undefined;

listenToHost<Show>(statusRegions, {
  show: (msg) => {
    const sameResult = shown?.view.result === msg.view.result;
    shown = msg;
    state = msg.state;
    persist(state);
    if (!sameResult) {
      picture = base64ToBytes(msg.view.result.picture.rgba);
      pinned = undefined;
      hover = undefined;
      grid = undefined;
      if (overlay === 'layer' && !msg.view.result.spatial.toLayer) overlay = 'class';
    }
  },
  render,
  hasShown: () => shown !== undefined,
});

window.addEventListener('message', (event: MessageEvent<ToBlocksWebview>) => {
  const msg = event.data;
  if (msg?.type === 'grid') {
    grid = msg;
    render();
  } else if (msg?.type === 'groupPictures' && shown) {
    shown = { ...shown, view: { ...shown.view, groupPictures: msg.uri } };
    render();
  }
});

post({ type: 'ready' });

function rerun(change: Partial<BlocksRequestState>): void {
  if (!state) return;
  const request: BlocksRequestState = { ...state.request, ...change };
  for (const key of Object.keys(request) as Array<keyof BlocksRequestState>) if (request[key] === undefined) delete request[key];
  post({ type: 'rerun', request });
}

function select(testid: string, label: string, options: Array<[string, string]>, value: string, onChange: (v: string) => void): HTMLElement {
  const s = el('select', { testid, attrs: { id: testid } }, options.map(([v, text]) => el('option', { text, attrs: { value: v } })));
  s.value = value;
  s.addEventListener('change', () => onChange(s.value));
  return el('div', { class: 'control' }, [el('label', { text: label, attrs: { for: testid } }), s]);
}

function button(testid: string, text: string, onClick: () => void, title: string, secondary = true): HTMLElement {
  return el('vscode-button', { testid, text, attrs: { ...(secondary ? { secondary: '' } : {}), title }, on: { click: onClick } });
}

function controls(view: Show['view'], request: BlocksRequestState): HTMLElement {
  const r = view.result;
  const classes: Array<[string, string]> = view.classes.map((c, i) => [String(i), `${i}: ${c}`]);
  const groups = el('input', { testid: 'groups', attrs: { id: 'groups', type: 'number', min: '1', max: '64', value: String(r.groups.k) } });
  groups.addEventListener('change', () => {
    const k = Number(groups.value);
    if (Number.isInteger(k) && k >= 1 && k <= 64) rerun({ groups: k });
  });
  return el('div', { class: 'controls' }, [
    select('layer-select', 'Layer', view.layers.map((l) => [l, l]), r.layer, (layer) => rerun({ layer, toLayer: undefined })),
    select('class-select', 'Class', classes, String(r.classIndex), (c) => rerun({ classIndex: Number(c) })),
    select('versus-select', 'Versus', [['', '— (the class logit)'], ...classes], r.versusClass === undefined ? '' : String(r.versusClass),
      (c) => rerun({ versusClass: c === '' ? undefined : Number(c) })),
    select('later-select', 'Later layer', [['', '—'], ...view.layers.filter((l) => l !== r.layer).map((l): [string, string] => [l, l])],
      request.toLayer ?? '', (l) => rerun({ toLayer: l === '' ? undefined : l })),
    el('div', { class: 'control' }, [el('label', { text: 'Groups', attrs: { for: 'groups' } }), groups]),
  ]);
}

function render(): void {
  app.replaceChildren();
  if (!shown) {
    app.append(el('header', {}, [status, errorBox]), el('p', { class: 'placeholder', text: state ? `Computing the building blocks of ${state.request.layer}…` : 'Nothing to show yet.' }));
    return;
  }
  const { view } = shown;
  const r = view.result;
  const top = r.predictions[0]!;
  app.append(
    el('header', {}, [
      el('h1', {}, ['Building Blocks of ', el('span', { text: view.imageName }), ' at ', layerLink(r.layer, post),
        el('span', { class: 'shape', text: ` ${r.layerShape.join('×')}` })]),
      el('dl', { class: 'facts', testid: 'facts' }, [
        el('dt', { text: 'Model' }), el('dd', { text: view.modelName }),
        el('dt', { text: 'Prediction' }), el('dd', { testid: 'prediction', text: `${top.label} (p = ${top.probability.toFixed(3)})` }),
        el('dt', { text: 'Attributions explain' }), el('dd', { testid: 'score', text: r.score }),
        el('dt', { text: 'Run' }), el('dd', { text: `${r.backend} · ${(r.ms / 1000).toFixed(1)} s` }),
      ]),
      controls(view, shown.state.request),
      el('div', { class: 'actions' }, [
        button('activation-grid', 'Activation grid', () => post({ type: 'activationGrid' }),
          `One feature visualization per position (${r.layerShape[0] * r.layerShape[1]} images): slow`),
        button('export-json', 'Export JSON', () => post({ type: 'export', format: 'json' }), 'Save every number of this view'),
        button('export-png', 'Export PNG', () => { if (canvas) post({ type: 'export', format: 'png', png: pngDataUrl(canvas) }); }, 'Save the picture with its overlay'),
      ]),
      status, errorBox,
      ...r.notes.map((n) => el('p', { class: 'note', text: n })),
    ]),
    el('div', { class: 'main-row' }, [pictureSection(view), dictionaryHost]),
    channelSection(view),
    groupsSection(view),
    ...(grid ? [el('section', { class: 'grid', testid: 'grid' }, [
      el('h2', { text: `Activation grid (${grid.rows}×${grid.cols} images)` }),
      el('img', { class: 'grid-image', testid: 'grid-image', attrs: { src: grid.png, alt: 'activation grid' } }),
    ])] : []),
  );
  drawPicture();
  renderDictionary();
}

function pictureSection(view: Show['view']): HTMLElement {
  const r = view.result;
  const { width, height } = r.picture;
  canvas = newCanvas(width, height, 'picture');
  canvas.classList.add('picture');
  const at = (e: MouseEvent): { px: number; py: number } => {
    const rect = canvas!.getBoundingClientRect();
    return { px: ((e.clientX - rect.left) / rect.width) * width, py: ((e.clientY - rect.top) / rect.height) * height };
  };
  canvas.addEventListener('mousemove', (e) => {
    const { px, py } = at(e);
    hover = positionAt(px, py, r.picture, r.layerShape[0], r.layerShape[1]);
    const to = r.spatial.toLayer;
    if (to) later = positionAt(px, py, r.picture, to.shape[0], to.shape[1]);
    renderDictionary();
    drawPicture();
  });
  canvas.addEventListener('mouseleave', () => {
    hover = undefined;
    renderDictionary();
    drawPicture();
  });
  canvas.addEventListener('click', (e) => {
    const { px, py } = at(e);
    const p = positionAt(px, py, r.picture, r.layerShape[0], r.layerShape[1]);
    pinned = pinned && pinned.y === p.y && pinned.x === p.x ? undefined : p;
    renderDictionary();
    drawPicture();
  });
  const modes: Array<[Overlay, string]> = [['class', `Attribution to ${r.score}`], ['activation', 'Largest activation'], ['groups', 'Neuron groups']];
  if (r.spatial.toLayer) modes.splice(1, 0, ['layer', `Attribution from ${r.spatial.toLayer.layer} (follows the pointer)`]);
  const radios = el('div', { class: 'overlay-modes', attrs: { role: 'radiogroup', 'aria-label': 'Overlay' } }, modes.map(([mode, label]) => {
    const input = el('input', { testid: `overlay-${mode}`, attrs: { type: 'radio', name: 'overlay', id: `overlay-${mode}`, value: mode } });
    input.checked = overlay === mode;
    input.addEventListener('change', () => {
      overlay = mode;
      focusGroup = undefined;
      drawPicture();
    });
    return el('label', { attrs: { for: `overlay-${mode}` } }, [input, ` ${label}`]);
  }));
  return el('section', { class: 'picture-section' }, [
    canvas, radios,
    el('p', { class: 'hint', text: 'Hover a position to see its channels; click to pin it.' }),
  ]);
}

function drawPicture(): void {
  if (!shown || !canvas || !picture) return;
  const r = shown.view.result;
  const [h, w] = r.layerShape;
  const { width, height } = r.picture;
  canvas.dataset.overlay = overlay;
  if (overlay === 'groups') {
    const g = canvas.getContext('2d');
    g?.putImageData(new ImageData(groupOverlay(r, picture, width, height, focusGroup), width, height), 0, 0);
    markPosition();
    return;
  }
  let map: ArrayLike<number> = r.spatial.toClass;
  if (overlay === 'activation') map = r.maxActivation;
  if (overlay === 'layer' && r.spatial.toLayer) {
    const to = r.spatial.toLayer;
    const q = later ? later.y * to.shape[1] + later.x : 0;
    map = to.maps[q] ?? [];
    canvas.dataset.laterPosition = String(q);
  }
  const signed = overlay !== 'activation';
  drawOverlay(canvas, picture, toPicture(map, h, w, width, height), signed, signed ? div : seq, 0.6);
  markPosition();
}

/** Outlines the position the dictionary shows (pinned, else hovered). */
function markPosition(): void {
  const at = pinned ?? hover;
  const g = canvas?.getContext('2d');
  if (!shown || !at || !g || !canvas) return;
  const [h, w] = shown.view.result.layerShape;
  const cw = canvas.width / w;
  const ch = canvas.height / h;
  g.strokeStyle = pinned ? '#ffffff' : 'rgba(255, 255, 255, 0.7)';
  g.lineWidth = Math.max(1, Math.min(cw, ch) / 6);
  g.strokeRect(at.x * cw, at.y * ch, cw, ch);
}

/** A channel's icon: its feature visualization, else its top probe images as a labelled stand-in, else a button to render it. */
function channelIcon(view: Show['view'], c: number): HTMLElement {
  const pic = view.pictures[c];
  if (pic) return el('img', { class: 'icon', testid: 'channel-picture', attrs: { src: pic, alt: `feature visualization of unit ${c}`, title: `unit ${c}: feature visualization` } });
  const probe = view.probes[c];
  const render = el('button', { class: 'icon-button', text: '▶', attrs: { type: 'button', title: `Visualize unit ${c}` }, on: { click: () => post({ type: 'visualizeUnit', unit: c }) } });
  if (probe) {
    return el('span', { class: 'icon-stand-in' }, [
      el('img', { class: 'icon probe', testid: 'channel-probe', attrs: { src: probe, alt: `top probe images of unit ${c} (stand-in)`, title: `unit ${c}: top probe images from network dissection — a stand-in until its feature visualization exists` } }),
      render,
    ]);
  }
  return el('span', { class: 'icon empty', attrs: { title: `no picture of unit ${c} yet` } }, [render]);
}

function renderDictionary(): void {
  dictionaryHost.replaceChildren();
  if (!shown) return;
  const { view } = shown;
  const r = view.result;
  const at = pinned ?? hover ?? r.start;
  const entry = r.dictionary[at.y * r.layerShape[1] + at.x];
  dictionaryHost.dataset.position = `${at.y},${at.x}`;
  dictionaryHost.append(el('h2', { text: `Position (${at.y}, ${at.x})${pinned ? ' · pinned' : hover ? '' : ' · strongest'}` }));
  if (!entry) return;
  dictionaryHost.append(el('ol', { class: 'dictionary-list' }, entry.channels.map((c, i) => el('li', { testid: 'dictionary-entry', attrs: { 'data-unit': String(c) } }, [
    channelIcon(view, c),
    el('span', { class: 'unit', text: `unit ${c}` }),
    el('span', { class: 'value', text: entry.values[i]!.toPrecision(3) }),
  ]))));
  const hasStandIn = entry.channels.some((c) => !view.pictures[c] && view.probes[c]);
  if (hasStandIn) dictionaryHost.append(el('p', { class: 'hint', text: 'Probe images stand in for units without a feature visualization (▶ renders one).' }));
}

function channelSection(view: Show['view']): HTMLElement {
  const r = view.result;
  const values = attribution === 'integrated' ? r.channel.integrated : r.channel.simple;
  const { top, bottom } = extremeChannels(values, 8);
  const row = (c: number) => el('li', { attrs: { 'data-unit': String(c) } }, [channelIcon(view, c), el('span', { class: 'unit', text: `unit ${c}` }),
    el('span', { class: `value ${values[c]! >= 0 ? 'pos' : 'neg'}`, text: values[c]!.toPrecision(3) })]);
  const toggle = select('attribution-kind', 'Attribution', [['integrated', `path-integrated (N = ${r.channel.pathSteps})`], ['simple', 'simple (act × grad)']], attribution,
    (v) => {
      attribution = v === 'simple' ? 'simple' : 'integrated';
      render();
    });
  return el('section', { class: 'channels', testid: 'channel-attribution' }, [
    el('h2', { text: `Channel attribution to ${r.score}` }),
    toggle,
    el('p', { class: 'hint', testid: 'completeness', text: `Σ path-integrated = ${r.channel.integratedSum.toPrecision(4)}; the score changes by ${r.channel.scoreDifference.toPrecision(4)} from zero activations to these` }),
    el('div', { class: 'extremes' }, [
      el('div', {}, [el('h3', { text: 'Raise it most' }), el('ol', { class: 'channel-list', testid: 'top-channels' }, top.map(row))]),
      el('div', {}, [el('h3', { text: 'Lower it most' }), el('ol', { class: 'channel-list', testid: 'bottom-channels' }, bottom.map(row))]),
    ]),
    strip(values),
  ]);
}

/** Every channel's attribution as a bar (SVG). */
function strip(values: readonly number[]): SVGSVGElement {
  const NS = 'http://www.w3.org/2000/svg';
  const width = Math.max(200, Math.min(900, values.length * 3));
  const height = 60;
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'attribution of every channel');
  svg.classList.add('strip-chart');
  const max = Math.max(1e-12, ...values.map(Math.abs));
  const bw = width / values.length;
  values.forEach((v, c) => {
    const bar = document.createElementNS(NS, 'rect');
    const len = (Math.abs(v) / max) * (height / 2 - 1);
    bar.setAttribute('x', (c * bw).toFixed(2));
    bar.setAttribute('width', Math.max(0.5, bw - 0.3).toFixed(2));
    bar.setAttribute('y', (v >= 0 ? height / 2 - len : height / 2).toFixed(2));
    bar.setAttribute('height', len.toFixed(2));
    bar.setAttribute('class', v >= 0 ? 'pos' : 'neg');
    const t = document.createElementNS(NS, 'title');
    t.textContent = `unit ${c}: ${v.toPrecision(3)}`;
    bar.append(t);
    svg.append(bar);
  });
  return svg;
}

function groupsSection(view: Show['view']): HTMLElement {
  const r = view.result;
  const [h, w] = r.layerShape;
  const cards = r.groups.spatial.map((map, k) => {
    const small = newCanvas(w, h, `group-map-${k}`);
    small.classList.add('group-map');
    const g = small.getContext('2d');
    const peak = Math.max(...map) || 1;
    const [cr, cg, cb] = groupColour(k);
    if (g) {
      const img = g.createImageData(w, h);
      map.forEach((v, p) => {
        const a = v / peak;
        img.data.set([255 - a * (255 - cr), 255 - a * (255 - cg), 255 - a * (255 - cb), 255], p * 4);
      });
      g.putImageData(img, 0, 0);
    }
    const focus = () => {
      overlay = 'groups';
      focusGroup = focusGroup === k ? undefined : k;
      drawPicture();
    };
    return el('div', { class: 'group-card', testid: `group-${k}`, attrs: { 'data-attribution': String(r.groups.attribution[k]) } }, [
      el('button', { class: 'group-head', text: `group ${k}`, attrs: { type: 'button', title: 'Show this group over the picture' }, on: { click: focus } }),
      small,
      el('p', { class: 'value', text: `attribution ${r.groups.attribution[k]!.toPrecision(3)}` }),
      el('p', { class: 'hint', text: `channels ${groupChannels(r.groups.channels[k]!, 5).join(', ')}` }),
    ]);
  });
  const pictures = view.groupPictures
    ? el('img', { class: 'group-pictures', testid: 'group-pictures', attrs: { src: view.groupPictures, alt: 'feature visualizations of the groups\' directions, in group order' } })
    : button('visualize-groups', 'Visualize groups', () => post({ type: 'visualizeGroups' }), 'Render each group\'s direction (Lucid\'s NeuronGroups icons)');
  return el('section', { class: 'groups', testid: 'groups-section' }, [
    el('h2', { text: `Neuron groups (NMF, K = ${r.groups.k}; relative error ${r.groups.relativeError.toFixed(3)})` }),
    el('div', { class: 'group-cards' }, cards),
    pictures,
  ]);
}

render();
