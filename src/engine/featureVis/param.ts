/**
 * Lucid's default image parameterisation (lucid/optvis/param/spatial.py `fft_image`, color.py
 * `to_valid_rgb`): a scaled Fourier spectrum → inverse real FFT → /4 → decorrelated colour → sigmoid.
 */
import * as tf from '@tensorflow/tfjs';
import { gaussianNoise } from '../random';
import { irfft2d, type IrfftShape } from './fft';

/** Lucid's `color_correlation_svd_sqrt` (square root of ImageNet's colour correlation), row-major. */
export const COLOR_CORRELATION_SVD_SQRT: readonly number[] = [0.26, 0.09, 0.02, 0.27, 0.0, -0.05, 0.27, -0.09, 0.03];

/** The matrix divided by its largest column norm (Lucid's `max_norm_svd_sqrt`), as Lucid computes it in float32. */
export function normalizedColorMatrix(): Float32Array {
  const m = Float32Array.from(COLOR_CORRELATION_SVD_SQRT);
  let maxNorm = 0;
  for (let c = 0; c < 3; c++) maxNorm = Math.max(maxNorm, Math.hypot(m[c]!, m[3 + c]!, m[6 + c]!));
  return m.map((v) => v / maxNorm);
}

/** numpy.fft.fftfreq(n): [0, 1, …, ⌈n/2⌉ − 1, −⌊n/2⌋, …, −1] / n. */
export function fftfreq(n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (i < Math.ceil(n / 2) ? i : i - n) / n;
  return out;
}

/** Columns of the half spectrum: w/2 + 1 for even w; one more for odd w, cropped after the transform (Lucid). */
export function halfSpectrumWidth(w: number): number {
  return w % 2 === 1 ? Math.floor(w / 2) + 2 : Math.floor(w / 2) + 1;
}

/** Lucid's `rfft2d_freqs(h, w)`: √(fx² + fy²) on the [h, WF] grid, row-major. */
export function rfft2dFreqs(h: number, w: number): Float64Array {
  const fy = fftfreq(h);
  const fx = fftfreq(w);
  const wf = halfSpectrumWidth(w);
  const out = new Float64Array(h * wf);
  // For odd w the extra column is fftfreq(w)[w//2 + 1], the most negative frequency.
  for (let j = 0; j < h; j++) for (let k = 0; k < wf; k++) out[j * wf + k] = Math.hypot(fx[k]!, fy[j]!);
  return out;
}

/** 1 / max(freq, 1/max(w, h))^decay · √(w·h): Lucid's spectrum scale, the √(w·h) undoing irfft2d's 1/(w·h). */
export function spectrumScale(h: number, w: number, decayPower: number): Float32Array {
  const freqs = rfft2dFreqs(h, w);
  const floor = 1 / Math.max(w, h);
  return Float32Array.from(freqs, (f) => Math.sqrt(w * h) / Math.max(f, floor) ** decayPower);
}

export interface FourierImageOptions {
  batch: number;
  height: number;
  width: number;
  channels: number;
  /** Exponent of the 1/f spectrum scale (Lucid: 1). */
  decayPower: number;
  /** Map colours through Lucid's decorrelation matrix (3-channel images only). */
  decorrelate: boolean;
}

/** A batch of images as a flat parameter vector (Lucid's spectrum variable, shape [2, batch, channels, h, WF]). */
export class FourierImage {
  readonly irfft: IrfftShape;
  readonly size: number;
  /** Per spectrum entry [H, WF], row-major. */
  readonly scale: Float32Array;
  /** The colour matrix (row-major 3×3), when colours are decorrelated. */
  readonly color: Float32Array | undefined;

  constructor(readonly options: FourierImageOptions) {
    const { height: h, width: w, batch, channels } = options;
    const wf = halfSpectrumWidth(w);
    this.irfft = { H: h, WF: wf, h, w };
    this.size = 2 * batch * channels * h * wf;
    this.scale = spectrumScale(h, w, options.decayPower);
    this.color = options.decorrelate && channels === 3 ? normalizedColorMatrix() : undefined;
  }

  /** Lucid's initial value: N(0, sd²) per spectrum entry, seeded. */
  initial(seed: number, sd: number): Float32Array {
    return gaussianNoise(this.size, seed, sd);
  }

  /** The images [batch, h, w, channels] in (0, 1) for a parameter tensor of `size` values. */
  image(theta: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => this.toValid(this.raw(theta)));
  }

  /** Lucid's `fft_image`: the spectrum's images before colour and sigmoid, [batch, h, w, channels]. */
  raw(theta: tf.Tensor): tf.Tensor4D {
    const { batch, channels, height: h, width: w } = this.options;
    const { H, WF } = this.irfft;
    return tf.tidy(() => {
      const spectrum = tf.mul(theta.reshape([2, batch * channels, H, WF]), tf.tensor4d(this.scale, [1, 1, H, WF]));
      return irfft2d(spectrum, this.irfft).reshape([batch, channels, h, w]).transpose([0, 2, 3, 1]).div(4) as tf.Tensor4D;
    });
  }

  /** Lucid's `to_valid_rgb(decorrelate, sigmoid=True)` of images [n, h, w, channels]. */
  toValid(raw: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let img = raw;
      if (this.color) {
        // rgb = t · Cᵀ per pixel (Lucid's _linear_decorelate_color)
        const ct = tf.tensor2d(this.color, [3, 3]).transpose();
        img = tf.matMul(img.reshape([-1, 3]), ct).reshape(raw.shape) as tf.Tensor4D;
      }
      return tf.sigmoid(img);
    });
  }
}
