/** The TCAV page's side of the message channel. */
import { isTcavPanelState, type FromTcavWebview, type TcavPanelState } from '../../src/protocol/tcavWebview';
import { connectToHost } from '../shared/vscodeApi';

export const { post, savedState, persist } = connectToHost<FromTcavWebview, TcavPanelState>(isTcavPanelState);
