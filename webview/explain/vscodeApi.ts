/** The Explain page's side of the message channel. */
import { isPanelState, type FromWebview, type PanelState } from '../../src/protocol/webview';
import { connectToHost } from '../shared/vscodeApi';

export const { post, savedState, persist } = connectToHost<FromWebview, PanelState>(isPanelState);
