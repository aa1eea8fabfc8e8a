/**
 * The Feature Visualization page: the unit's picture (or the latest preview while it renders), the objective
 * over the steps, the recipe's parameters and, when the layer was dissected, the unit's top probe images.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { FeatureVisPanelState, ToFeatureVisWebview } from '../../src/protocol/featureVisWebview';
import { lineChart } from '../shared/chart';
import { el } from '../shared/dom';
import { listenToHost } from '../shared/hostMessages';
import { layerLink } from '../shared/layerLink';
import { statusArea } from '../shared/status';
import { persist, post, savedState } from './vscodeApi';

type Show = Extract<ToFeatureVisWebview, { type: 'show' }>;
type Preview = Extract<ToFeatureVisWebview, { type: 'preview' }>['preview'];

let shown: Show | undefined;
let state: FeatureVisPanelState | undefined = savedState();
let preview: Preview | undefined;
let previewValues: number[] = [];

const app = document.getElementById('app')!;
const statusRegions = statusArea(app);
const { status, errorBox } = statusRegions;

listenToHost<Show>(statusRegions, {
  show: (msg) => {
    shown = msg;
    preview = undefined;
    state = msg.state;
    persist(state);
  },
  render,
  hasShown: () => shown !== undefined || preview !== undefined,
});

window.addEventListener('message', (event: MessageEvent<ToFeatureVisWebview>) => {
  const msg = event.data;
  if (msg?.type === 'start') {
    shown = undefined;
    preview = undefined;
    previewValues = [];
    state = msg.state;
    persist(state);
    render();
  } else if (msg?.type === 'preview') {
    preview = msg.preview;
    previewValues.push(msg.preview.value);
    render();
  }
});

post({ type: 'ready' });

function recomputeButton(): HTMLElement {
  return el('vscode-button', {
    testid: 'recompute', text: 'Recompute',
    attrs: { secondary: '', title: 'Render the picture again, ignoring the cache' },
    on: { click: () => post({ type: 'recompute' }) },
  });
}

function heading(layer: string, unit: number): HTMLElement {
  return el('h1', {}, ['Unit ', el('span', { testid: 'unit', text: String(unit) }), ' of ', layerLink(layer, post)]);
}

function render(): void {
  app.replaceChildren();
  const s = shown?.state ?? state;
  if (!shown) {
    app.append(el('header', {}, [...(s ? [heading(s.layer, s.unit)] : []), status, errorBox]));
    if (preview) {
      app.append(el('section', { class: 'picture', testid: 'preview' }, [
        el('img', { class: 'vis', testid: 'preview-image', attrs: { src: preview.png, alt: `preview at step ${preview.step}` } }),
        el('p', { class: 'hint', testid: 'preview-step', text: `step ${preview.step} of ${preview.steps} · objective ${preview.value.toPrecision(4)}` }),
      ]));
    } else {
      app.append(el('p', { class: 'placeholder', text: s ? 'No picture yet.' : 'Nothing to show yet.' }));
    }
    if (s) app.append(recomputeButton());
    return;
  }
  const { view } = shown;
  const sum = view.summary;
  const p = sum.params;
  const facts: Array<[string, string]> = [
    ['Model', view.modelName],
    ['Objective', sum.objective.map((t) => `${t.kind}${'unit' in t ? ` ${t.unit}` : ''} @ ${t.layer}${t.weight !== undefined && t.weight !== 1 ? ` × ${t.weight}` : ''}`).join(' + ')],
    ['Recipe', `${p.steps} steps · ${sum.imageShape[0]} px → ${sum.inputShape[0]}×${sum.inputShape[1]} · Adam lr ${p.lr} · seed ${p.seed} · Fourier 1/f^${p.decayPower}${p.decorrelate && sum.imageShape[2] === 3 ? ' · decorrelated colour' : ''} · redirected ReLU ${p.redirectedSteps} steps`],
    ['Transforms', p.transforms.map((t) => (t.kind === 'pad' ? `pad ${t.pixels}` : t.kind === 'jitter' ? `jitter ${t.pixels}` : t.kind === 'scale' ? `scale ${Math.min(...t.factors)}–${Math.max(...t.factors)}` : `rotate ${Math.min(...t.degrees)}…${Math.max(...t.degrees)}°`)).join(', ')],
    ['Run', `${sum.backend} · ${sum.cached ? 'from cache' : `${(sum.ms / 1000).toFixed(1)} s, ${sum.msPerStep.total.toFixed(1)} ms/step (parameterisation ${sum.msPerStep.parameterisation.toFixed(1)}, model ${sum.msPerStep.model.toFixed(1)})`}`],
  ];
  const last = sum.values.slice(-16);
  const finalValue = last.reduce((a, b) => a + b, 0) / Math.max(1, last.length);
  const pictures = el('div', { class: 'pictures' }, [
    el('figure', { class: 'picture', testid: 'picture' }, [
      el('img', { class: 'vis', testid: 'vis-image', attrs: { src: view.image, alt: `feature visualization of unit ${shown.state.unit} of ${shown.state.layer}` } }),
      el('figcaption', { text: 'What the unit responds to most (Lucid\'s feature visualization)' }),
    ]),
  ]);
  if (view.dissection) {
    const d = view.dissection;
    pictures.append(el('figure', { class: 'probe', testid: 'probe-strip' }, [
      el('img', { class: 'strip', attrs: { src: d.strip, alt: `top probe images of unit ${shown.state.unit}` } }),
      el('figcaption', { text: `Top probe images (network dissection): ${d.label} (${d.category}), IoU ${d.iou.toFixed(3)}${d.interpretable ? '' : ', not interpretable'}` }),
    ]));
  }
  app.append(
    el('header', {}, [heading(shown.state.layer, shown.state.unit), el('div', { class: 'header-actions' }, [recomputeButton()]), status, errorBox]),
    pictures,
    el('section', { class: 'objective' }, [
      el('h2', { text: 'Objective over the steps' }),
      lineChart(sum.values, 'objective'),
      el('p', { class: 'hint', testid: 'objective', text: `${sum.values[0]?.toPrecision(3) ?? '–'} at the start → ${finalValue.toPrecision(3)} over the last ${last.length} steps (the random transforms make it noisy)` }),
    ]),
    el('dl', { class: 'facts', testid: 'facts' }, facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })])),
    ...sum.notes.map((n) => el('p', { class: 'note', text: n })),
  );
}

render();
