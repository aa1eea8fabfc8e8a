/** The Dissection page's side of the message channel. */
import { isDissectPanelState, type DissectPanelState, type FromDissectWebview } from '../../src/protocol/dissectWebview';
import { connectToHost } from '../shared/vscodeApi';

export const { post, savedState, persist } = connectToHost<FromDissectWebview, DissectPanelState>(isDissectPanelState);
