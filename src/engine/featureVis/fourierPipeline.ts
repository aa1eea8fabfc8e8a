/**
 * One feature-visualisation step's parameterisation on plain arrays: Lucid's Fourier image (param.ts) → the step's
 * transforms → the model's preprocessing, and the vector-Jacobian product back to the parameters, in plain loops
 * (the inverse FFT in fftLoops.ts, the resizes in separableResize.ts, the rotation in kernels/resample.ts) without a
 * TF.js op, each large loop shared with a helper thread while the model is idle (paramThreads.ts).
 * Why not TF.js autodiff (pipeline.ts, which the activation grid's mixed parameterisation still uses): on wasm the
 * op-by-op version cost ~40 ms of a 128 px step, mostly tensor dispatch, copies and tf.grad running the image
 * forward again — more than the whole model on ONNX Runtime. The forward keeps the sigmoid's output for the backward.
 */
import type { Adam } from './adam';
import { halves, SERIAL, type Splitter } from './paramThreads';
import type { FourierImage } from './param';
import type { InputMap } from './pipeline';
import { applyTransformsArray, transposeTransformsArray, type TransformStage } from './transforms';

export class FourierPipeline {
  /** The last forward's images in (0, 1), [B, h, w, C], and its stages: what the backward needs. */
  private last?: { images: Float32Array; stages: readonly TransformStage[] };

  /** The spectrum's scale, where both threads read it. */
  private readonly scale: Float32Array;

  /** `split`: shares the large loops with a helper thread (paramThreads.ts); the results are the same without it. */
  constructor(private readonly fourier: FourierImage, private readonly map: InputMap, private readonly split: Splitter = SERIAL) {
    this.scale = split.keep(fourier.scale.length);
    this.scale.set(fourier.scale);
  }

  /** Whether the step's tables must live in shared memory (a helper thread reads them). */
  get sharedTables(): boolean {
    return this.split !== SERIAL;
  }

  /** An array both threads read, for the whole run (the parameters). */
  keep(length: number): Float32Array {
    return this.split.keep(length);
  }

  /** An array both threads read, for this step (the model's gradient, the input to `backward`; zeros). */
  alloc(length: number): Float32Array {
    return this.split.alloc(length);
  }

  /** Adam's update of `theta` along `g`, shared between the threads. */
  ascend(adam: Adam, theta: Float32Array, g: Float32Array): void {
    adam.ascend(theta, g, (args, from, to) => {
      const [a, b] = halves(to - from);
      this.split.run('adam', [args, from + a[0], from + a[1]], [args, from + b[0], from + b[1]]);
    });
  }

  /** A step begins: the arrays of the one before may be reused. */
  recycle(): void {
    this.split.recycle();
  }

  /** The images [B, h, w, C] in (0, 1) of parameters `theta` (Lucid's fft_image → to_valid_rgb). */
  images(theta: Float32Array): Float32Array {
    const { batch, channels: C, height: h, width: w } = this.fourier.options;
    const s = this.fourier.irfft;
    const split = this.split;
    const count = batch * C;
    // The scaled spectrum's inverse FFT: columns, then rows, each shared between the threads.
    const y = split.alloc64(2 * count * s.H * s.WF, 'overwritten');
    const [c0, c1] = halves(s.WF);
    split.run('irfftColumns', [theta, this.scale, count, s, y, c0[0], c0[1]], [theta, this.scale, count, s, y, c1[0], c1[1]]);
    const raw = split.alloc(count * h * w, 'overwritten');
    const [r0, r1] = rowPairHalves(h);
    split.run('irfftRows', [y, count, s, raw, r0[0], r0[1]], [y, count, s, raw, r1[0], r1[1]]);
    // raw: [B, C, h, w] → images [B, h, w, C], through colour and sigmoid, /4 as Lucid's fft_image.
    const images = split.alloc(raw.length, 'overwritten');
    const plane = h * w;
    const [p, q] = halves(plane);
    const color = this.fourier.color;
    split.run('colour', [raw, images, color, batch, C, plane, p[0], p[1]], [raw, images, color, batch, C, plane, q[0], q[1]]);
    return images;
  }

  /** The model input [B, H, W, C] for parameters `theta` under the step's transforms. */
  forward(theta: Float32Array, stages: readonly TransformStage[]): Float32Array {
    const { batch, channels: C, height: h, width: w } = this.fourier.options;
    const images = this.images(theta);
    this.last = { images, stages };
    return applyTransformsArray({ data: images, shape: [batch, h, w, C] }, stages, this.map, this.split).data;
  }

  /** d⟨forward(θ), g⟩/dθ at the last forward's θ and stages, for the model's input gradient g [B, H, W, C]. */
  backward(g: Float32Array, inputShape: [number, number, number, number]): Float32Array {
    if (!this.last) throw new Error('internal: FourierPipeline.backward before forward');
    const { images, stages } = this.last;
    const { batch, channels: C, height: h, width: w } = this.fourier.options;
    const split = this.split;
    const dImages = transposeTransformsArray({ data: g, shape: inputShape }, stages, this.map, split).data;
    // Back through sigmoid, colour and /4 to the inverse FFT's output [B, C, h, w].
    const dRaw = split.alloc(dImages.length, 'overwritten');
    const plane = h * w;
    const [p, q] = halves(plane);
    const color = this.fourier.color;
    split.run('colourBack', [dImages, images, dRaw, color, batch, C, plane, p[0], p[1]], [dImages, images, dRaw, color, batch, C, plane, q[0], q[1]]);
    const s = this.fourier.irfft;
    const count = batch * C;
    // The inverse FFT's adjoint, rows then columns, and the spectrum's scale: the gradient for the parameters.
    // (Zeros: the rows below the crop get no gradient.)
    const y = split.alloc64(2 * count * s.H * s.WF);
    const [r0, r1] = rowPairHalves(h);
    split.run('adjointRows', [dRaw, count, s, y, r0[0], r0[1]], [dRaw, count, s, y, r1[0], r1[1]]);
    const dTheta = split.alloc(2 * count * s.H * s.WF, 'overwritten');
    const [c0, c1] = halves(s.WF);
    split.run('adjointColumns', [y, this.scale, count, s, dTheta, c0[0], c0[1]], [y, this.scale, count, s, dTheta, c1[0], c1[1]]);
    return dTheta;
  }
}

/** Rows [0, h) in two halves that start on a row pair (the row pass transforms rows two at a time). */
function rowPairHalves(h: number): [[number, number], [number, number]] {
  const mid = Math.min(h, 2 * Math.ceil(h / 4));
  return [[0, mid], [mid, h]];
}
