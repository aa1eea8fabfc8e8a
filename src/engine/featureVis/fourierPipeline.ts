/**
 * One feature-visualisation step's parameterisation on plain arrays: Lucid's Fourier image (param.ts) → the step's
 * transforms → the model's preprocessing, and the vector-Jacobian product back to the parameters, in plain loops
 * (the inverse FFT in fftLoops.ts, the resampling in kernels/resample.ts) without a TF.js op.
 * Why not TF.js autodiff (pipeline.ts, which the activation grid's mixed parameterisation still uses): on wasm the
 * op-by-op version cost ~40 ms of a 128 px step, mostly tensor dispatch, copies and tf.grad running the image
 * forward again — more than the whole model on ONNX Runtime. The forward keeps the sigmoid's output for the backward.
 */
import { irfft2dAdjointLoops, irfft2dLoops } from './fftLoops';
import type { FourierImage } from './param';
import type { InputMap } from './pipeline';
import { applyTransformsArray, transposeTransformsArray, type TransformStage } from './transforms';

export class FourierPipeline {
  /** The last forward's images in (0, 1), [B, h, w, C], and its stages: what the backward needs. */
  private last?: { images: Float32Array; stages: readonly TransformStage[] };

  constructor(private readonly fourier: FourierImage, private readonly map: InputMap) {}

  /** The images [B, h, w, C] in (0, 1) of parameters `theta` (Lucid's fft_image → to_valid_rgb). */
  images(theta: Float32Array): Float32Array {
    const { batch, channels: C, height: h, width: w } = this.fourier.options;
    const { H, WF } = this.fourier.irfft;
    const scale = this.fourier.scale;
    const spectrum = new Float32Array(theta.length);
    const per = H * WF;
    for (let i = 0; i < theta.length; i++) spectrum[i] = theta[i]! * scale[i % per]!;
    const raw = irfft2dLoops(spectrum, batch * C, this.fourier.irfft);
    // raw: [B, C, h, w] → images [B, h, w, C], through colour and sigmoid, /4 as Lucid's fft_image.
    const images = new Float32Array(raw.length);
    const color = this.fourier.color;
    const plane = h * w;
    for (let b = 0; b < batch; b++) {
      const src = b * C * plane;
      for (let p = 0; p < plane; p++) {
        const out = (b * plane + p) * C;
        if (color) {
          const r = raw[src + p]! / 4;
          const g = raw[src + plane + p]! / 4;
          const bl = raw[src + 2 * plane + p]! / 4;
          for (let c = 0; c < 3; c++) images[out + c] = sigmoid(color[3 * c]! * r + color[3 * c + 1]! * g + color[3 * c + 2]! * bl);
        } else {
          for (let c = 0; c < C; c++) images[out + c] = sigmoid(raw[src + c * plane + p]! / 4);
        }
      }
    }
    return images;
  }

  /** The model input [B, H, W, C] for parameters `theta` under the step's transforms. */
  forward(theta: Float32Array, stages: readonly TransformStage[]): Float32Array {
    const { batch, channels: C, height: h, width: w } = this.fourier.options;
    const images = this.images(theta);
    this.last = { images, stages };
    const x = applyTransformsArray({ data: images, shape: [batch, h, w, C] }, stages).data;
    const { scale, offset, bgr } = this.map;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i += C) {
      for (let c = 0; c < C; c++) out[i + c] = x[i + (bgr ? C - 1 - c : c)]! * scale[c]! + offset[c]!;
    }
    return out;
  }

  /** d⟨forward(θ), g⟩/dθ at the last forward's θ and stages, for the model's input gradient g [B, H, W, C]. */
  backward(g: Float32Array, inputShape: [number, number, number, number]): Float32Array {
    if (!this.last) throw new Error('internal: FourierPipeline.backward before forward');
    const { images, stages } = this.last;
    const { batch, channels: C, height: h, width: w } = this.fourier.options;
    const { scale, bgr } = this.map;
    const d = new Float32Array(g.length);
    for (let i = 0; i < g.length; i += C) {
      for (let c = 0; c < C; c++) d[i + (bgr ? C - 1 - c : c)] = g[i + c]! * scale[c]!;
    }
    const dImages = transposeTransformsArray({ data: d, shape: inputShape }, stages).data;
    // Back through sigmoid, colour and /4 to the inverse FFT's output [B, C, h, w].
    const dRaw = new Float32Array(dImages.length);
    const color = this.fourier.color;
    const plane = h * w;
    for (let b = 0; b < batch; b++) {
      const dst = b * C * plane;
      for (let p = 0; p < plane; p++) {
        const at = (b * plane + p) * C;
        if (color) {
          const d0 = sigmoidSlope(dImages, images, at);
          const d1 = sigmoidSlope(dImages, images, at + 1);
          const d2 = sigmoidSlope(dImages, images, at + 2);
          for (let k = 0; k < 3; k++) dRaw[dst + k * plane + p] = (color[k]! * d0 + color[3 + k]! * d1 + color[6 + k]! * d2) / 4;
        } else {
          for (let c = 0; c < C; c++) dRaw[dst + c * plane + p] = sigmoidSlope(dImages, images, at + c) / 4;
        }
      }
    }
    const { H, WF } = this.fourier.irfft;
    const dSpectrum = irfft2dAdjointLoops(dRaw, batch * C, this.fourier.irfft);
    const dTheta = new Float32Array(dSpectrum.length);
    const per = H * WF;
    const spectrumScale = this.fourier.scale;
    for (let i = 0; i < dTheta.length; i++) dTheta[i] = dSpectrum[i]! * spectrumScale[i % per]!;
    return dTheta;
  }
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** dy · s (1 − s) at element i, s the sigmoid's output. */
function sigmoidSlope(dy: Float32Array, s: Float32Array, i: number): number {
  const v = s[i]!;
  return dy[i]! * v * (1 - v);
}
