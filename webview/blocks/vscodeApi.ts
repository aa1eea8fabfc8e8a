/** The Building Blocks page's side of the message channel. */
import { isBlocksPanelState, type BlocksPanelState, type FromBlocksWebview } from '../../src/protocol/blocksWebview';
import { connectToHost } from '../shared/vscodeApi';

export const { post, savedState, persist } = connectToHost<FromBlocksWebview, BlocksPanelState>(isBlocksPanelState);
