import { noiseTunnelMethod } from './noiseTunnel';

/** SmoothGrad²: mean of the squared gradients at noisy copies of the input. */
export const smoothgradSq = noiseTunnelMethod('smoothgrad-sq', 'SmoothGrad²', 'meanSquare');
