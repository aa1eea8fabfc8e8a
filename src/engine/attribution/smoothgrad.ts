import { noiseTunnelMethod } from './noiseTunnel';

/** SmoothGrad (Smilkov 2017): mean of the gradients at noisy copies of the input. */
export const smoothgrad = noiseTunnelMethod('smoothgrad', 'SmoothGrad', 'mean');
