import { noiseTunnelMethod } from './noiseTunnel';

/** VarGrad (Adebayo 2018): variance of the gradients at noisy copies of the input. */
export const vargrad = noiseTunnelMethod('vargrad', 'VarGrad', 'variance');
