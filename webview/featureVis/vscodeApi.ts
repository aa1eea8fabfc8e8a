/** The Feature Visualization page's side of the message channel. */
import { isFeatureVisPanelState, type FeatureVisPanelState, type FromFeatureVisWebview } from '../../src/protocol/featureVisWebview';
import { connectToHost } from '../shared/vscodeApi';

export const { post, savedState, persist } = connectToHost<FromFeatureVisWebview, FeatureVisPanelState>(isFeatureVisPanelState);
