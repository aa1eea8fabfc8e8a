/**
 * The inverse real 2-D DFT of Lucid's Fourier parameterisation (TensorFlow's `irfft2d`, then a crop), and
 * its adjoint, as two matrix products each with precomputed cosine/sine matrices.
 *
 * Why matrices rather than an FFT: TF.js has no gradient for its FFT ops and the wasm backend has no FFT
 * kernels at all; at Lucid's sizes (128 × 65 frequencies) the two products are dense but small
 * (~25 MFLOP per 3-channel image), and wasm's matMul (XNNPACK) runs them in well under a millisecond
 * (measured in bench/featureVis.ts), so the whole transform costs less than the tensor bookkeeping around it.
 *
 * Definition (numpy's / TensorFlow's irfft2d over the last two axes, output length Nw = 2·(WF − 1)):
 *   x[m, n] = 1/(H·Nw) · Σ_j Σ_k c_k · Re( X[j, k] · e^{2πi (j m / H + k n / Nw)} ),  c_0 = c_{Nw/2} = 1, else 2
 * for m < h ≤ H, n < w ≤ Nw (the crop). The imaginary parts of the k = 0 and k = Nw/2 columns enter only
 * through the sum over j, exactly as the Hermitian completion of a real transform treats them.
 */
import * as tf from '@tensorflow/tfjs';

/** Shape of one transform: spectrum H × WF complex values → image h × w real values. */
export interface IrfftShape {
  /** Rows of the spectrum (the full complex axis) and of the untruncated image. */
  H: number;
  /** Columns of the half spectrum; the real axis has Nw = 2·(WF − 1) samples. */
  WF: number;
  /** Output size after the crop: h ≤ H, w ≤ Nw. */
  h: number;
  w: number;
}

interface Matrices {
  /** [2·WF, 2·w]: [R, I] rows of a spectrum row → [U, V] (cosine and sine parts along the real axis). */
  alongW: tf.Tensor2D;
  /** [2·H, h]: [U; V] columns → output column, with 1/(H·Nw). */
  alongH: tf.Tensor2D;
  /** Their transposes, for the adjoint: wasm's matMul with a transposed operand is ~10× slower (measured). */
  alongWT: tf.Tensor2D;
  alongHT: tf.Tensor2D;
}

const cache = new Map<string, Matrices>();

function matrices(s: IrfftShape): Matrices {
  const key = `${s.H},${s.WF},${s.h},${s.w},${tf.getBackend()}`;
  let m = cache.get(key);
  if (m) return m;
  const Nw = 2 * (s.WF - 1);
  const w2 = new Float32Array(2 * s.WF * 2 * s.w);
  for (let k = 0; k < s.WF; k++) {
    const c = k === 0 || 2 * k === Nw ? 1 : 2;
    for (let n = 0; n < s.w; n++) {
      // The angle reduced mod Nw first keeps float64 trigonometry exact at large k·n.
      const a = (2 * Math.PI * ((k * n) % Nw)) / Nw;
      const cos = c * Math.cos(a);
      const sin = c * Math.sin(a);
      w2[k * 2 * s.w + n] = cos; //        R → U:  c cos
      w2[k * 2 * s.w + s.w + n] = sin; //  R → V:  c sin
      w2[(s.WF + k) * 2 * s.w + n] = -sin; // I → U: −c sin
      w2[(s.WF + k) * 2 * s.w + s.w + n] = cos; // I → V: c cos
    }
  }
  const h2 = new Float32Array(2 * s.H * s.h);
  const norm = 1 / (s.H * Nw);
  for (let j = 0; j < s.H; j++) {
    for (let mRow = 0; mRow < s.h; mRow++) {
      const a = (2 * Math.PI * ((j * mRow) % s.H)) / s.H;
      h2[j * s.h + mRow] = norm * Math.cos(a); //          U →  cos
      h2[(s.H + j) * s.h + mRow] = -norm * Math.sin(a); // V → −sin
    }
  }
  m = tf.tidy(() => {
    const alongW = tf.tensor2d(w2, [2 * s.WF, 2 * s.w]);
    const alongH = tf.tensor2d(h2, [2 * s.H, s.h]);
    return {
      alongW: tf.keep(alongW), alongH: tf.keep(alongH), alongWT: tf.keep(alongW.transpose<tf.Tensor2D>()), alongHT: tf.keep(alongH.transpose<tf.Tensor2D>()),
    };
  });
  cache.set(key, m);
  return m;
}

/** Frees the cached matrices (tests, or a worker switching backends). */
export function disposeIrfftMatrices(): void {
  for (const m of cache.values()) for (const t of [m.alongW, m.alongH, m.alongWT, m.alongHT]) t.dispose();
  cache.clear();
}

/**
 * The transform: `spectrum` [2, N, H, WF] (real parts, then imaginary parts, of N spectra) → [N, h, w].
 * Differentiable: its gradient is `irfft2dAdjoint`.
 */
export function irfft2d(spectrum: tf.Tensor, shape: IrfftShape): tf.Tensor3D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor;
    return {
      value: irfft2dForward(x, shape),
      gradFunc: (dy: tf.Tensor) => irfft2dAdjoint(dy, shape),
    };
  });
  return op(spectrum) as tf.Tensor3D;
}

function checkSpectrum(spectrum: tf.Tensor, s: IrfftShape): number {
  const [two, n, H, WF] = spectrum.shape;
  if (spectrum.rank !== 4 || two !== 2 || H !== s.H || WF !== s.WF || s.h > s.H || s.w > 2 * (s.WF - 1)) {
    throw new Error(`internal: irfft2d of a [${spectrum.shape.join(', ')}] spectrum to ${s.h}×${s.w}`);
  }
  return n!;
}

export function irfft2dForward(spectrum: tf.Tensor, s: IrfftShape): tf.Tensor3D {
  const n = checkSpectrum(spectrum, s);
  const m = matrices(s);
  return tf.tidy(() => {
    // [2, N, H, WF] → rows [N·H, 2·WF] = [R_j, I_j] per spectrum row j.
    const rows = spectrum.transpose([1, 2, 0, 3]).reshape([n * s.H, 2 * s.WF]);
    const uv = tf.matMul(rows, m.alongW); // [N·H, 2·w]: [U_j, V_j]
    // Columns [N·w, 2·H] = [U_·n, V_·n] per output column n, then × alongH → x[·, n].
    const cols = uv.reshape([n, s.H, 2, s.w]).transpose([0, 3, 2, 1]).reshape([n * s.w, 2 * s.H]);
    return tf.matMul(cols, m.alongH).reshape([n, s.w, s.h]).transpose([0, 2, 1]) as tf.Tensor3D;
  });
}

/** The adjoint (transpose) of irfft2dForward: dy [N, h, w] → [2, N, H, WF]. */
export function irfft2dAdjoint(dy: tf.Tensor, s: IrfftShape): tf.Tensor4D {
  const [n, h, w] = dy.shape;
  if (dy.rank !== 3 || h !== s.h || w !== s.w) throw new Error(`internal: irfft2d adjoint of [${dy.shape.join(', ')}]`);
  const m = matrices(s);
  return tf.tidy(() => {
    const cols = tf.matMul(dy.transpose([0, 2, 1]).reshape([n! * s.w, s.h]), m.alongHT); // [N·w, 2·H]
    const uv = cols.reshape([n!, s.w, 2, s.H]).transpose([0, 3, 2, 1]).reshape([n! * s.H, 2 * s.w]);
    const rows = tf.matMul(uv, m.alongWT); // [N·H, 2·WF]
    return rows.reshape([n!, s.H, 2, s.WF]).transpose([2, 0, 1, 3]) as tf.Tensor4D;
  });
}
