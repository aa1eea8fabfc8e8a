/** Neuron groups (NeuronGroups.ipynb): NMF of the activations [positions, channels] into K groups. */
import { nmf } from './nmf';

export interface NeuronGroups {
  /** K × (H·W), each group's spatial factor. */
  spatial: number[][];
  /** K × C, each group's channel factor (a direction in the layer's space). */
  channels: number[][];
  relativeError: number;
  iterations: number;
  /** Set when negative activations had to be clipped (NMF needs A ≥ 0). */
  clipped: boolean;
}

/** acts: H × W × C row-major. Groups ordered by the column of their spatial peak, left to right (the notebook's order). */
export function neuronGroups(acts: Float32Array, h: number, w: number, c: number, k: number): NeuronGroups {
  let clipped = false;
  const a = Float64Array.from(acts, (v) => {
    if (v < 0) clipped = true;
    return Math.max(0, v);
  });
  const { W, H, iterations, relativeError } = nmf(a, h * w, c, k);
  const spatial = Array.from({ length: k }, (_, g) => Array.from({ length: h * w }, (_, p) => W[p * k + g]!));
  const channels = Array.from({ length: k }, (_, g) => Array.from(H.subarray(g * c, (g + 1) * c)));
  const peakColumn = spatial.map((map) => map.indexOf(Math.max(...map)) % w);
  const order = [...spatial.keys()].sort((x, y) => peakColumn[x]! - peakColumn[y]! || x - y);
  return { spatial: order.map((g) => spatial[g]!), channels: order.map((g) => channels[g]!), relativeError, iterations, clipped };
}
