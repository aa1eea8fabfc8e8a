import * as tf from '@tensorflow/tfjs';
import type { AttributionContext, Target } from '../../src/engine/attribution/types';
import type { LoadedModel } from '../../src/engine/model/loader';
import { resolveParams } from '../../src/engine/params';
import type { MethodParams } from '../../src/protocol/types';

/** An attribution context on a given preprocessed input, for calling engine internals directly. */
export function contextFor(model: LoadedModel, input: tf.Tensor4D, target: Partial<Target> = {},
  params: Partial<MethodParams> = {}): AttributionContext {
  const [, h, w] = input.shape;
  return {
    model, input,
    image: { width: w, height: h, data: new Float32Array(w * h * 4) },
    preprocessing: model.description.preprocessing,
    target: { classIndex: 0, kind: 'logit', ...target },
    params: resolveParams(params),
    layer: model.description.defaultCamLayer ?? '',
    weights: model.graph.weights,
    hooks: {},
  };
}

export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}
