import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend';
import { conv2d, depthwiseConv2d, type ConvAttrs } from '../src/engine/model/convOps';
import { WeightStore } from '../src/engine/model/weightStore';
import { relativeError } from './helpers/context';
import { rng } from './helpers/models';

/**
 * Loupe's input-gradient convolutions (forward conv of flipped kernels; phase split for strides) against
 * tfjs's own Conv2DBackpropInput / DepthwiseConv2dNativeBackpropInput on the cpu backend, over sizes,
 * kernels, strides and paddings where phases have different lengths or no taps at all, and where depthwise
 * phase kernels are padded with zero taps to the extents XNNPACK runs fast (2×1 → 2×2, 3×2 → 3×3, 4×4 → 5×5).
 */
test('strided and padded input gradients equal tfjs reference kernels', async () => {
  const backend = await initBackend();
  const r = rng(17);
  const rand = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1), shape);
  let cases = 0;
  try {
    for (const size of [7, 8]) for (const k of [1, 2, 3, 5, 7]) for (const stride of [1, 2, 3]) for (const pad of ['same', 'valid'] as const) {
      for (const depthwise of [false, true]) {
        if (pad === 'valid' && k > size) continue;
        const x = rand([2, size, size + 1, 3]);
        const kernel = rand(depthwise ? [k, k, 3, 2] : [k, k, 3, 4]) as tf.Tensor4D;
        const attrs: ConvAttrs = { strides: [stride, stride], dilations: [1, 1], pad };
        await tf.setBackend(backend);
        const store = new WeightStore(new Map([['k', kernel]]), new Set());
        const y = (depthwise ? depthwiseConv2d : conv2d)(x as tf.Tensor4D, store, 'k', attrs);
        const weightsOut = rand(y.shape);
        const ours = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul((depthwise ? depthwiseConv2d : conv2d)(xi as tf.Tensor4D, store, 'k', attrs), weightsOut)))(x).dataSync();
        store.dispose();
        await tf.setBackend('cpu');
        const reference = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(depthwise
          ? tf.depthwiseConv2d(xi as tf.Tensor4D, kernel, stride, pad)
          : tf.conv2d(xi as tf.Tensor4D, kernel, stride, pad), weightsOut)))(x).dataSync();
        const err = relativeError(ours, reference);
        assert.ok(err < 1e-5, `size ${size} k ${k} stride ${stride} ${pad} ${depthwise ? 'depthwise' : 'conv'}: ${err}`);
        cases++;
      }
    }
  } finally {
    await tf.setBackend(backend);
  }
  assert.ok(cases > 80);
});
