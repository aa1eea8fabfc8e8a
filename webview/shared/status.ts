/**
 * The status line (a progress ring and what the host is doing) and the error box in every panel's
 * header, driven by the host's `busy` and `error` messages.
 */
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import type { PanelStatusMessage } from '../../src/protocol/panelMessages';
import { el } from './dom';

export interface StatusArea {
  /** role=status, polite: screen readers hear what started. */
  status: HTMLElement;
  /** role=alert: the last failure, hidden while none is current. */
  errorBox: HTMLElement;
  /** Shows a `busy` or `error` message from the host. */
  apply(message: PanelStatusMessage): void;
}

/** The two regions; `app`'s aria-busy follows the busy state. */
export function statusArea(app: HTMLElement): StatusArea {
  const status = el('div', { class: 'status', testid: 'status', attrs: { role: 'status', 'aria-live': 'polite' } });
  const errorBox = el('div', { class: 'error', testid: 'error', attrs: { role: 'alert' } });
  errorBox.hidden = true;

  const setBusy = (message: string | undefined): void => {
    status.replaceChildren();
    app.setAttribute('aria-busy', message ? 'true' : 'false');
    if (message) {
      status.append(el('vscode-progress-ring', { attrs: { 'aria-hidden': 'true' } }), el('span', { text: message }));
      errorBox.hidden = true;
    }
  };

  return {
    status,
    errorBox,
    apply(message) {
      if (message.type === 'busy') {
        setBusy(message.busy ? message.message ?? 'Working…' : undefined);
      } else {
        errorBox.textContent = message.message;
        errorBox.hidden = false;
      }
    },
  };
}
