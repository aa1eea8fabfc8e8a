/**
 * The TCAV panel's page. Flow: post `ready`; the host answers with `show` (the result and the state to
 * persist: model and cache key, so a reload finds the result again). Everything is rebuilt on `show`.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { TcavPanelState, ToTcavWebview } from '../../src/protocol/tcavWebview';
import { el } from '../shared/dom';
import { listenToHost } from '../shared/hostMessages';
import { statusArea } from '../shared/status';
import { header, layerSection } from './view';
import { persist, post, savedState } from './vscodeApi';

type Show = Extract<ToTcavWebview, { type: 'show' }>;

let shown: Show | undefined;
let state: TcavPanelState | undefined = savedState();

const app = document.getElementById('app')!;
const statusRegions = statusArea(app);
const { status, errorBox } = statusRegions;

listenToHost<Show>(statusRegions, {
  show: (msg) => {
    shown = msg;
    state = msg.state;
    persist(state);
  },
  render,
  hasShown: () => shown !== undefined,
});

post({ type: 'ready' });

function render(): void {
  app.replaceChildren();
  if (!shown) {
    app.append(el('header', {}, [status, errorBox]), el('p', { class: 'placeholder', text: state ? 'Reading the TCAV result…' : 'No TCAV result yet.' }));
    return;
  }
  const { view } = shown;
  app.append(
    header(view, post, [status, errorBox]),
    el('div', { class: 'legend', attrs: { 'aria-hidden': 'true' } }, [
      el('span', { class: 'swatch concept' }), ' concept runs (bar: mean, line: ± 1 sd, dots: runs) ',
      el('span', { class: 'swatch random' }), ' random runs; greyed rows are not significant, ⚠ a CAV the layer cannot tell from random',
    ]),
    ...view.result.layers.map((l) => layerSection(l, view.result.params.minCavAccuracy, post)),
  );
}

render();
