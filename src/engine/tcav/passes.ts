/**
 * Every call TCAV makes into the model, in one place and in an async shape (Promises of
 * Float32Arrays), so an accelerator with an async API can take over by changing this file alone.
 * Inputs are model inputs already preprocessed: `count` images of the graph's [H, W, C], row-major.
 */
import * as tf from '@tensorflow/tfjs';
import { gradients, runGraph } from '../model/executor';
import type { LoadedModel } from '../model/loader';

export interface TcavPasses {
  /** The activations of each of `layers` for every image: one array per layer, `count` rows of the layer's size. */
  activations(inputs: Float32Array, count: number, layers: string[]): Promise<Float32Array[]>;
  /** ∂ logit[classIndex] / ∂ activations of `layer`, for every image: `count` rows of the layer's size. */
  classGradients(inputs: Float32Array, count: number, classIndex: number, layer: string): Promise<Float32Array>;
}

async function read(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from((await t.data()) as Float32Array);
}

export function modelPasses(model: LoadedModel): TcavPasses {
  const graph = model.graph;
  const [h, w, c] = graph.inputShape;
  return {
    async activations(inputs, count, layers) {
      const x = tf.tensor4d(inputs, [count, h, w, c]);
      try {
        const outs = tf.tidy(() => runGraph(graph, x, { outputs: layers }));
        try {
          return await Promise.all(outs.map(read));
        } finally {
          tf.dispose(outs);
        }
      } finally {
        x.dispose();
      }
    },
    async classGradients(inputs, count, classIndex, layer) {
      const x = tf.tensor4d(inputs, [count, h, w, c]);
      try {
        // The seed one-hot on the class: each image's own logit, as the attribution methods' layerGradient.
        const g = tf.tidy(() => gradients(graph, x, {
          outputs: [graph.logitsName], wrt: layer,
          seed: (logits) => tf.oneHot(tf.fill([logits.shape[0]!], classIndex, 'int32'), logits.shape[1]!).toFloat(),
        }).gradient);
        try {
          return await read(g);
        } finally {
          g.dispose();
        }
      } finally {
        x.dispose();
      }
    },
  };
}
