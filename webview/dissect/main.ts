/**
 * The Dissection panel's page. Flow: post `ready`; the host answers with `show` (the summary, a URI
 * per unit strip, the state to persist); sorting and filtering happen here and are posted back as
 * `ui` so they survive a reload. The DOM is rebuilt on `show`; filter changes rebuild the grid only.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { DEFAULT_DISSECT_UI, type DissectPanelState, type DissectUiState, type ToDissectWebview } from '../../src/protocol/dissectWebview';
import { el } from '../shared/dom';
import { listenToHost } from '../shared/hostMessages';
import { statusArea } from '../shared/status';
import { filterCategories, visibleUnits } from './units';
import { categoryChart, gridControls, header, unitCard, unitDetail } from './view';
import { persist, post, savedState } from './vscodeApi';

type Show = Extract<ToDissectWebview, { type: 'show' }>;

let shown: Show | undefined;
let state: DissectPanelState | undefined = savedState();
let ui: DissectUiState = state?.ui ?? { ...DEFAULT_DISSECT_UI };

const app = document.getElementById('app')!;
const statusRegions = statusArea(app);
const { status, errorBox } = statusRegions;
const gridHost = el('div', { class: 'grid-host' });
const detailHost = el('div', { class: 'detail-host' });

listenToHost<Show>(statusRegions, {
  show: (msg) => {
    shown = msg;
    ui = { ...msg.state.ui };
    // A category the new result's probe does not have would hide every unit.
    if (ui.category && !filterCategories(msg.view.summary).includes(ui.category)) ui.category = '';
    state = { ...msg.state, ui };
    persist(state);
  },
  render,
  hasShown: () => shown !== undefined,
});

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && ui.unit !== undefined) updateUi({ unit: undefined });
});

post({ type: 'ready' });

function updateUi(next: Partial<DissectUiState>): void {
  const merged: DissectUiState = { ...ui, ...next };
  if (merged.unit === undefined) delete merged.unit;
  const unitChanged = merged.unit !== ui.unit;
  ui = merged;
  if (state) {
    state = { ...state, ui };
    persist(state);
  }
  post({ type: 'ui', ui });
  renderGrid();
  renderDetail();
  if (unitChanged && ui.unit !== undefined) detailHost.scrollIntoView({ block: 'start' });
}

function recomputeButton(): HTMLElement {
  return el('vscode-button', {
    testid: 'recompute', text: 'Recompute',
    attrs: { secondary: '', title: 'Dissect this layer again with the current settings, ignoring the cache' },
    on: { click: () => post({ type: 'recompute' }) },
  });
}

function render(): void {
  app.replaceChildren();
  if (!shown) {
    const layer = state?.layer;
    app.append(el('header', {}, [status, errorBox]),
      el('p', { class: 'placeholder', text: layer ? `No dissection of ${layer} is shown yet.` : 'No dissection yet.' }),
      ...(layer ? [recomputeButton()] : []));
    return;
  }
  const { view } = shown;
  app.append(
    header(view, post, [el('div', { class: 'header-actions' }, [recomputeButton()]), status, errorBox]),
    categoryChart(view),
    detailHost,
    el('section', { class: 'units-section', attrs: { 'aria-label': 'Units' } }, [
      el('h2', { text: 'Units' }),
      gridControls({ ui, categories: filterCategories(view.summary), onChange: (next) => updateUi(next) }),
      gridHost,
    ]),
  );
  renderGrid();
  renderDetail();
}

function renderGrid(): void {
  gridHost.replaceChildren();
  if (!shown) return;
  const { summary, strips } = shown.view;
  const stripOf = new Map(summary.units.map((u, i) => [u.unit, strips[i] ?? '']));
  const units = visibleUnits(summary.units, ui);
  gridHost.append(
    el('p', { class: 'hint', testid: 'grid-count', text: `Showing ${units.length} of ${summary.units.length} units` }),
    el('div', { class: 'unit-grid', testid: 'unit-grid' }, units.map((u) =>
      unitCard(u, stripOf.get(u.unit) ?? '', u.unit === ui.unit, (unit) => updateUi({ unit }), pictureOf(u.unit)))),
  );
}

function renderDetail(): void {
  detailHost.replaceChildren();
  if (!shown || ui.unit === undefined) return;
  const { summary, strips } = shown.view;
  const index = summary.units.findIndex((u) => u.unit === ui.unit);
  if (index < 0) return;
  const unit = summary.units[index]!.unit;
  const picture = shown.view.pictures ? { uri: pictureOf(unit), visualize: () => post({ type: 'visualizeUnit', unit }) } : undefined;
  detailHost.append(unitDetail(summary.units[index]!, strips[index] ?? '', summary.params.iouThreshold, () => updateUi({ unit: undefined }), picture));
}

/** Feature visualisation: the unit's picture URI, '' when none exists yet. */
function pictureOf(unit: number): string {
  if (!shown?.view.pictures) return '';
  const index = shown.view.summary.units.findIndex((u) => u.unit === unit);
  return shown.view.pictures[index] ?? '';
}

render();
