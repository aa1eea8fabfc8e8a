/**
 * The page's listener for what the host posts, the same in every panel: `show` hides the last error and
 * renders; `busy` and `error` go to the status area, and an error while nothing is shown renders the
 * placeholder (which carries the status area) so that the error is seen.
 */
import type { PanelStatusMessage } from '../../src/protocol/panelMessages';
import type { StatusArea } from './status';

export interface PageHandlers<Show> {
  /** Takes the new result in (and persists its state); `render` follows. */
  show(msg: Show): void;
  render(): void;
  hasShown(): boolean;
}

export function listenToHost<Show extends { type: 'show' }>(area: StatusArea, page: PageHandlers<Show>): void {
  window.addEventListener('message', (event: MessageEvent<Show | PanelStatusMessage>) => {
    const msg = event.data;
    switch (msg?.type) {
      case 'show':
        page.show(msg as Show);
        area.errorBox.hidden = true;
        page.render();
        break;
      case 'busy':
      case 'error':
        area.apply(msg as PanelStatusMessage);
        if (msg.type === 'error' && !page.hasShown()) page.render();
        break;
    }
  });
}
