/**
 * The inverse real 2-D DFT of fft.ts (same definition, same crop) and its adjoint as separable 1-D transforms in
 * plain loops, for feature visualisation's step (fourierPipeline.ts): radix-2 FFTs for power-of-two lengths, a
 * direct sum with a precomputed table otherwise. Why beside fft.ts's matrix products: the products do ~25 MFLOP
 * per 128 px image and wasm's threaded matMul slowed ~7× on a busy machine (2.6 → 17 ms measured), where these
 * ~1 MFLOP of single-threaded loops stay a few ms. Arithmetic is float64 inside.
 *
 *   Forward, per image: Y[m, k] = Σ_j X[j, k] e^{2πi jm/H} (m < h), then x[m, n] = Re Σ_k c_k Y[m, k] e^{2πi kn/Nw} / (H·Nw)
 *   (n < w; c_0 = c_{Nw/2} = 1, else 2: the one-sided sum of the Hermitian spectrum).
 *   Adjoint: the same two steps in reverse order with e^{−2πi …}: each step's transpose is the conjugate DFT.
 *   Along the real axis two rows share one complex transform (their spectra are Hermitian, their images real).
 */
import type { IrfftShape } from './fft';

/** An unnormalised complex DFT of length n, in place on (re, im): sign +1 for e^{+2πi…}, −1 for e^{−2πi…}. */
class Dft {
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly bits?: Uint32Array;
  private readonly tmpRe: Float64Array;
  private readonly tmpIm: Float64Array;

  constructor(readonly n: number) {
    const pow2 = (n & (n - 1)) === 0;
    // Power of two: twiddles e^{2πi k/n}, k < n/2. Otherwise the full n × n table, reduced mod n for exact angles.
    const size = pow2 ? n / 2 : n * n;
    this.cos = new Float64Array(size);
    this.sin = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const a = (2 * Math.PI * (pow2 ? i : ((Math.floor(i / n) * (i % n)) % n))) / n;
      this.cos[i] = Math.cos(a);
      this.sin[i] = Math.sin(a);
    }
    if (pow2) {
      const log = Math.log2(n);
      this.bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        let r = 0;
        for (let b = 0; b < log; b++) r |= ((i >> b) & 1) << (log - 1 - b);
        this.bits[i] = r;
      }
    }
    this.tmpRe = new Float64Array(n);
    this.tmpIm = new Float64Array(n);
  }

  run(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
    if (this.bits) this.fft(re, im, sign);
    else this.direct(re, im, sign);
  }

  private fft(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
    const { n, bits, cos, sin } = this;
    for (let i = 0; i < n; i++) {
      const j = bits![i]!;
      if (j > i) {
        const r = re[i]!;
        re[i] = re[j]!;
        re[j] = r;
        const t = im[i]!;
        im[i] = im[j]!;
        im[j] = t;
      }
    }
    for (let len = 2; len <= n; len <<= 1) {
      const half = len >> 1;
      const step = n / len;
      for (let start = 0; start < n; start += len) {
        for (let k = 0; k < half; k++) {
          const wr = cos[k * step]!;
          const wi = sign * sin[k * step]!;
          const a = start + k;
          const b = a + half;
          const br = re[b]! * wr - im[b]! * wi;
          const bi = re[b]! * wi + im[b]! * wr;
          re[b] = re[a]! - br;
          im[b] = im[a]! - bi;
          re[a] = re[a]! + br;
          im[a] = im[a]! + bi;
        }
      }
    }
  }

  private direct(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
    const { n, cos, sin, tmpRe, tmpIm } = this;
    for (let m = 0; m < n; m++) {
      let sr = 0;
      let si = 0;
      const row = m * n;
      for (let j = 0; j < n; j++) {
        const c = cos[row + j]!;
        const s = sign * sin[row + j]!;
        sr += re[j]! * c - im[j]! * s;
        si += re[j]! * s + im[j]! * c;
      }
      tmpRe[m] = sr;
      tmpIm[m] = si;
    }
    re.set(tmpRe);
    im.set(tmpIm);
  }
}

const plans = new Map<number, Dft>();
function plan(n: number): Dft {
  let p = plans.get(n);
  if (!p) plans.set(n, (p = new Dft(n)));
  return p;
}

/** spectrum [2, N, H, WF] (real parts, then imaginary parts) → images [N, h, w]. */
export function irfft2dLoops(spectrum: Float32Array, count: number, s: IrfftShape): Float32Array {
  const { H, WF, h, w } = s;
  const Nw = 2 * (WF - 1);
  const cols = plan(H);
  const rows = plan(Nw);
  const imOffset = count * H * WF;
  const out = new Float32Array(count * h * w);
  const colRe = new Float64Array(H);
  const colIm = new Float64Array(H);
  const yRe = new Float64Array(h * WF);
  const yIm = new Float64Array(h * WF);
  const rowRe = new Float64Array(Nw);
  const rowIm = new Float64Array(Nw);
  const norm = 1 / (H * Nw);
  for (let n = 0; n < count; n++) {
    const base = n * H * WF;
    for (let k = 0; k < WF; k++) {
      for (let j = 0; j < H; j++) {
        colRe[j] = spectrum[base + j * WF + k]!;
        colIm[j] = spectrum[imOffset + base + j * WF + k]!;
      }
      cols.run(colRe, colIm, 1);
      for (let m = 0; m < h; m++) {
        yRe[m * WF + k] = colRe[m]!;
        yIm[m * WF + k] = colIm[m]!;
      }
    }
    // Two rows per transform: each row's Hermitian spectrum has a real inverse, so row m + i·row m+1 comes back as
    // (real part, imaginary part). The Hermitian completion sums to the one-sided Σ c_k Re(…) above.
    for (let m = 0; m < h; m += 2) {
      const pair = m + 1 < h;
      for (let k = 0; k <= Nw / 2; k++) {
        const a = m * WF + k;
        const b = a + WF;
        const edge = k === 0 || 2 * k === Nw;
        const ar = yRe[a]!;
        const ai = edge ? 0 : yIm[a]!;
        const br = pair ? yRe[b]! : 0;
        const bi = pair && !edge ? yIm[b]! : 0;
        rowRe[k] = ar - bi;
        rowIm[k] = ai + br;
        if (!edge) {
          // conj(Y1_k) + i conj(Y2_k) at Nw − k
          rowRe[Nw - k] = ar + bi;
          rowIm[Nw - k] = br - ai;
        }
      }
      rows.run(rowRe, rowIm, 1);
      const o = (n * h + m) * w;
      for (let x = 0; x < w; x++) out[o + x] = rowRe[x]! * norm;
      if (pair) for (let x = 0; x < w; x++) out[o + w + x] = rowIm[x]! * norm;
    }
  }
  return out;
}

/** The adjoint of irfft2dLoops: dy [N, h, w] → [2, N, H, WF]. */
export function irfft2dAdjointLoops(dy: Float32Array, count: number, s: IrfftShape): Float32Array {
  const { H, WF, h, w } = s;
  const Nw = 2 * (WF - 1);
  const cols = plan(H);
  const rows = plan(Nw);
  const imOffset = count * H * WF;
  const out = new Float32Array(2 * imOffset);
  const rowRe = new Float64Array(Nw);
  const rowIm = new Float64Array(Nw);
  const yRe = new Float64Array(H * WF);
  const yIm = new Float64Array(H * WF);
  const colRe = new Float64Array(H);
  const colIm = new Float64Array(H);
  const norm = 1 / (H * Nw);
  for (let n = 0; n < count; n++) {
    // Rows m ≥ h of Y got no gradient (the crop): they stay zero.
    yRe.fill(0);
    yIm.fill(0);
    // Two real rows per transform (row m + i·row m+1), separated by the symmetry of real inputs' spectra.
    for (let m = 0; m < h; m += 2) {
      const pair = m + 1 < h;
      rowRe.fill(0);
      rowIm.fill(0);
      const o = (n * h + m) * w;
      for (let x = 0; x < w; x++) rowRe[x] = dy[o + x]! * norm;
      if (pair) for (let x = 0; x < w; x++) rowIm[x] = dy[o + w + x]! * norm;
      rows.run(rowRe, rowIm, -1);
      for (let k = 0; k < WF; k++) {
        const c = k === 0 || 2 * k === Nw ? 1 : 2;
        const back = (Nw - k) % Nw;
        const wr = rowRe[k]!;
        const wi = rowIm[k]!;
        const nr = rowRe[back]!;
        const ni = rowIm[back]!;
        yRe[m * WF + k] = (c * (wr + nr)) / 2;
        yIm[m * WF + k] = (c * (wi - ni)) / 2;
        if (pair) {
          yRe[(m + 1) * WF + k] = (c * (wi + ni)) / 2;
          yIm[(m + 1) * WF + k] = (c * (nr - wr)) / 2;
        }
      }
    }
    const base = n * H * WF;
    for (let k = 0; k < WF; k++) {
      for (let j = 0; j < H; j++) {
        colRe[j] = yRe[j * WF + k]!;
        colIm[j] = yIm[j * WF + k]!;
      }
      cols.run(colRe, colIm, -1);
      for (let j = 0; j < H; j++) {
        out[base + j * WF + k] = colRe[j]!;
        out[imOffset + base + j * WF + k] = colIm[j]!;
      }
    }
  }
  return out;
}
