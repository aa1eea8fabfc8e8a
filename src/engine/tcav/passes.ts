/**
 * Every call TCAV makes into the model, in one place and in an async shape (Promises of
 * Float32Arrays), so an accelerator with an async API can take over by changing this file alone.
 * Inputs are model inputs already preprocessed: `count` images of the graph's [H, W, C], row-major.
 */
import * as tf from '@tensorflow/tfjs';
import type { LoadedModel } from '../model/loader';

export interface TcavPasses {
  /** The activations of each of `layers` for every image: one array per layer, `count` rows of the layer's size. */
  activations(inputs: Float32Array, count: number, layers: string[]): Promise<Float32Array[]>;
  /** ∂ logit[classIndex] / ∂ activations of `layer`, for every image: `count` rows of the layer's size. */
  classGradients(inputs: Float32Array, count: number, classIndex: number, layer: string): Promise<Float32Array>;
}

async function read(t: tf.Tensor): Promise<Float32Array> {
  try {
    return Float32Array.from((await t.data()) as Float32Array);
  } finally {
    t.dispose();
  }
}

/** The model's own passes (ONNX Runtime when it runs the model, else TF.js). */
export function modelPasses(model: LoadedModel): TcavPasses {
  const [h, w, c] = model.graph.inputShape;
  return {
    async activations(inputs, count, layers) {
      const x = tf.tensor4d(inputs, [count, h, w, c]);
      try {
        return await Promise.all((await model.passes.forward(x, layers)).map(read));
      } finally {
        x.dispose();
      }
    },
    async classGradients(inputs, count, classIndex, layer) {
      const x = tf.tensor4d(inputs, [count, h, w, c]);
      try {
        // Each image's own class logit, as the attribution methods' layerGradient.
        const { activation, gradient } = await model.passes.layerGradient(x, layer, { classIndex, kind: 'logit' });
        activation.dispose();
        return await read(gradient);
      } finally {
        x.dispose();
      }
    },
  };
}
