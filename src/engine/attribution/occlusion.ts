import * as tf from '@tensorflow/tfjs';
import { pixelToInput } from '../image/preprocess';
import { inBatches, scores } from './score';
import type { AttributionMethod } from './types';

/**
 * Occlusion (Zeiler & Fergus 2014): f_c(x) − f_c(x with a window replaced), averaged over the windows
 * covering each pixel. Default window: 1/8 of the shorter side; stride: half the window.
 */
export const occlusion: AttributionMethod = {
  id: 'occlusion',
  title: 'Occlusion',
  async run(ctx) {
    const [, h, w, c] = ctx.input.shape;
    const window = ctx.params.window > 0 ? ctx.params.window : Math.max(2, Math.round(Math.min(h, w) / 8));
    const stride = ctx.params.stride > 0 ? ctx.params.stride : Math.max(1, Math.round(window / 2));
    const ys = positions(h, window, stride);
    const xs = positions(w, window, stride);
    const fill = tf.keep(tf.tidy(() => (ctx.params.occlusionBaseline === 'mean'
      ? ctx.input.mean([1, 2], true)
      : tf.tensor(pixelToInput([0, 0, 0], ctx.preprocessing, c), [1, 1, 1, c]))));
    const [base] = await scores(ctx, ctx.input);
    const sum = new Float64Array(h * w);
    const count = new Float64Array(h * w);
    const windows = ys.flatMap((y) => xs.map((x) => [y, x] as const));
    try {
      await inBatches(ctx, windows.length, 'Occlusion', async (start, n) => {
        const batch = windows.slice(start, start + n);
        const occluded = tf.tidy(() => {
          const masks = batch.map(([y, x]) => {
            const hh = Math.min(window, h - y);
            const ww = Math.min(window, w - x);
            return tf.pad(tf.ones([hh, ww, 1]), [[y, h - y - hh], [x, w - x - ww], [0, 0]]);
          });
          const m = tf.stack(masks);
          return tf.add(tf.mul(ctx.input, tf.sub(1, m)), tf.mul(fill, m));
        });
        const s = await scores(ctx, occluded).finally(() => occluded.dispose());
        batch.forEach(([y, x], i) => {
          const drop = base! - s[i]!;
          for (let yy = y; yy < Math.min(h, y + window); yy++) {
            for (let xx = x; xx < Math.min(w, x + window); xx++) {
              sum[yy * w + xx]! += drop;
              count[yy * w + xx]! += 1;
            }
          }
        });
      });
    } finally {
      fill.dispose();
    }
    const data = new Float32Array(h * w * c);
    for (let p = 0; p < h * w; p++) {
      const v = count[p]! > 0 ? sum[p]! / count[p]! : 0;
      for (let k = 0; k < c; k++) data[p * c + k] = v;
    }
    return {
      data, shape: [h, w, c], display: 'sum', signed: true,
      params: { window, stride, baseline: ctx.params.occlusionBaseline, windows: windows.length },
      figures: {}, notes: [],
    };
  },
};

/** Window origins covering [0, size): regular steps, plus one flush with the far edge. */
function positions(size: number, window: number, stride: number): number[] {
  const out: number[] = [];
  for (let p = 0; p + window <= size; p += stride) out.push(p);
  if (out.length === 0 || out[out.length - 1]! + window < size) out.push(Math.max(0, size - window));
  return out;
}
