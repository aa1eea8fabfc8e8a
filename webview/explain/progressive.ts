/**
 * The panel while it fills in: a card per map still to come (its progress, Cancel, or Compute after a cancel),
 * "from cache" on maps read back with one Recompute for all, and the sanity check's buttons and line.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { MapSummary, MethodId } from '../../src/protocol/types';
import type { FromWebview, WebviewPendingMap, WebviewProgress } from '../../src/protocol/webview';
import { el } from '../shared/dom';
import { METHOD_TITLES } from './format';

type Post = (message: FromWebview) => void;

const STATUS_TEXT: Record<WebviewPendingMap['status'], string> = {
  queued: 'Waiting…',
  running: 'Computing…',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

/** What the sanity check costs, said where its buttons are. */
export const SANITY_COST = 'The sanity check (Adebayo et al.) re-initialises the model\'s top two layers and computes the map again on the original '
  + 'and on the randomised model, about twice the map\'s own time; a rank correlation below 0.5 means the map depends on what those layers learned.';

/** A map not on screen yet: its title, where it stands, its progress, and Cancel (or Compute once stopped). */
export function pendingCard(p: WebviewPendingMap, post: Post): HTMLElement {
  const title = METHOD_TITLES[p.method] ?? p.method;
  const active = p.status === 'queued' || p.status === 'running';
  const bar = el('progress', { testid: `progress-bar-${p.method}`, attrs: { max: '1', ...(p.fraction !== undefined ? { value: String(p.fraction) } : {}) } });
  const text = el('span', { class: 'progress-text', testid: `progress-${p.method}`, text: p.message && p.status !== 'queued' ? p.message : STATUS_TEXT[p.status] });
  const button = active
    ? el('vscode-button', {
      testid: `cancel-${p.method}`, text: 'Cancel',
      attrs: { secondary: '', title: `Stop computing ${title}; the other maps go on` },
      on: { click: () => post({ type: 'cancelMethod', method: p.method }) },
    })
    : el('vscode-button', {
      testid: `compute-${p.method}`, text: 'Compute',
      attrs: { secondary: '', title: `Compute ${title}` },
      on: { click: () => post({ type: 'computeMethod', method: p.method }) },
    });
  return el('article', {
    class: `map-pending ${p.status}`, testid: `pending-${p.method}`,
    attrs: { 'data-method': p.method, 'data-status': p.status, 'aria-label': `${title}: ${STATUS_TEXT[p.status]}`, 'aria-busy': String(active) },
  }, [
    el('h3', { text: title }),
    el('div', { class: 'pending-body' }, [...(active ? [bar] : []), text]),
    ...(p.status === 'failed' && p.message ? [el('p', { class: 'error', text: p.message })] : []),
    el('div', { class: 'actions' }, [button]),
  ]);
}

/** On a map's card: "from cache", and its sanity-check button when the setting asks for one. */
export function cardExtras(card: HTMLElement, s: MapSummary, progress: WebviewProgress, post: Post): void {
  const actions = card.querySelector('.actions');
  if (progress.fromCache.includes(s.method)) {
    card.querySelector('h3')?.append(' ', el('span', { class: 'badge', testid: `from-cache-${s.method}`, text: 'from cache', attrs: { title: 'Read from the explanation cache (same weights, image, class, parameters and preprocessing); Recompute computes it again' } }));
  }
  if (progress.sanityMode === 'onDemand' && s.figures.sanitySpearman === undefined && actions) {
    actions.append(el('vscode-button', {
      testid: `sanity-${s.method}`, text: 'Sanity check',
      attrs: { secondary: '', title: SANITY_COST, ...(progress.sanity?.running ? { disabled: '' } : {}) },
      on: { click: () => post({ type: 'sanityCheck', method: s.method }) },
    }));
  }
}

/** Under the header: Recompute when maps came from the cache, the sanity check for all maps, and its line. */
export function progressSection(progress: WebviewProgress, post: Post): HTMLElement {
  const parts: Array<Node | string> = [];
  if (progress.fromCache.length > 0) {
    parts.push(el('span', { class: 'cache-note', testid: 'cache-note', text: `${progress.fromCache.length} map${progress.fromCache.length === 1 ? '' : 's'} from cache ` }),
      el('vscode-button', {
        testid: 'recompute', text: 'Recompute',
        attrs: { secondary: '', title: 'Compute the forward pass and every map again, ignoring the cache' },
        on: { click: () => post({ type: 'recompute' }) },
      }));
  }
  if (progress.sanityMode === 'onDemand') {
    parts.push(el('vscode-button', {
      testid: 'sanity-all', text: 'Sanity check all maps',
      attrs: { secondary: '', title: SANITY_COST, ...(progress.sanity?.running ? { disabled: '' } : {}) },
      on: { click: () => post({ type: 'sanityCheck' }) },
    }));
  }
  if (progress.sanityMode !== 'off') parts.push(el('p', { class: 'hint sanity-cost', testid: 'sanity-cost', text: SANITY_COST }));
  if (progress.sanity) {
    parts.push(el('p', {
      class: `sanity-status${progress.sanity.running ? ' running' : ''}`, testid: 'sanity-status', text: progress.sanity.text,
      attrs: { role: 'status', 'aria-live': 'polite' },
    }));
  }
  return el('div', { class: 'progressive', testid: 'progressive' }, parts);
}

/** A pending card's progress line and bar, in place. */
export function setMapProgress(root: HTMLElement, method: MethodId, fraction: number, message: string): void {
  const text = root.querySelector(`[data-testid="progress-${method}"]`);
  if (text) text.textContent = message;
  const bar = root.querySelector(`[data-testid="progress-bar-${method}"]`);
  if (bar) bar.setAttribute('value', String(Math.max(0, Math.min(1, fraction))));
}
