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
  /** Power of two: the bit-reversal swaps as pairs (i, j), i < j. */
  private readonly swaps?: Uint32Array;
  /** Power of two: each stage of length ≥ 8 its own contiguous twiddles e^{±2πi k/len}, k < len/2, stage after stage. */
  private readonly twRe?: Float64Array;
  private readonly twIm?: { [sign: number]: Float64Array };
  private readonly tmpRe: Float64Array;
  private readonly tmpIm: Float64Array;

  constructor(readonly n: number) {
    const pow2 = (n & (n - 1)) === 0;
    // Otherwise the full n × n table, reduced mod n for exact angles.
    const size = pow2 ? 0 : n * n;
    this.cos = new Float64Array(size);
    this.sin = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const a = (2 * Math.PI * ((Math.floor(i / n) * (i % n)) % n)) / n;
      this.cos[i] = Math.cos(a);
      this.sin[i] = Math.sin(a);
    }
    if (pow2) {
      const log = Math.log2(n);
      const swaps: number[] = [];
      for (let i = 0; i < n; i++) {
        let r = 0;
        for (let b = 0; b < log; b++) r |= ((i >> b) & 1) << (log - 1 - b);
        if (r > i) swaps.push(i, r);
      }
      this.swaps = Uint32Array.from(swaps);
      const re: number[] = [];
      const im: number[] = [];
      for (let len = 8; len <= n; len <<= 1) {
        for (let k = 0; k < len / 2; k++) {
          // The angle reduced on the n-point grid, as the table of every length would give it.
          const a = (2 * Math.PI * (k * (n / len))) / n;
          re.push(Math.cos(a));
          im.push(Math.sin(a));
        }
      }
      this.twRe = Float64Array.from(re);
      this.twIm = { 1: Float64Array.from(im), [-1]: Float64Array.from(im, (v) => -v) };
    }
    this.tmpRe = new Float64Array(n);
    this.tmpIm = new Float64Array(n);
  }

  run(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
    if (this.swaps) this.fft(re, im, sign);
    else this.direct(re, im, sign);
  }

  /**
   * Radix-2, decimation in time. The first two stages have the twiddles 1 and ±i and run without a multiply;
   * the others read their twiddles in order (hot loops with no index arithmetic on the tables).
   */
  private fft(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
    const n = this.n;
    const swaps = this.swaps!;
    for (let s = 0; s < swaps.length; s += 2) {
      const i = swaps[s]!;
      const j = swaps[s + 1]!;
      const r = re[i]!;
      re[i] = re[j]!;
      re[j] = r;
      const t = im[i]!;
      im[i] = im[j]!;
      im[j] = t;
    }
    if (n < 2) return;
    for (let a = 0; a < n; a += 2) {
      const ar = re[a]!;
      const ai = im[a]!;
      const br = re[a + 1]!;
      const bi = im[a + 1]!;
      re[a] = ar + br;
      im[a] = ai + bi;
      re[a + 1] = ar - br;
      im[a + 1] = ai - bi;
    }
    if (n < 4) return;
    for (let a = 0; a < n; a += 4) {
      // k = 0: twiddle 1; k = 1: twiddle ±i, (br + i·bi)·(±i) = ∓bi ± i·br.
      const r0 = re[a]!;
      const i0 = im[a]!;
      const r2 = re[a + 2]!;
      const i2 = im[a + 2]!;
      re[a] = r0 + r2;
      im[a] = i0 + i2;
      re[a + 2] = r0 - r2;
      im[a + 2] = i0 - i2;
      const r1 = re[a + 1]!;
      const i1 = im[a + 1]!;
      const tr = -sign * im[a + 3]!;
      const ti = sign * re[a + 3]!;
      re[a + 1] = r1 + tr;
      im[a + 1] = i1 + ti;
      re[a + 3] = r1 - tr;
      im[a + 3] = i1 - ti;
    }
    const twRe = this.twRe!;
    const twIm = this.twIm![sign]!;
    let off = 0;
    for (let len = 8; len <= n; len <<= 1) {
      const half = len >> 1;
      for (let start = 0; start < n; start += len) {
        for (let k = 0; k < half; k++) {
          const wr = twRe[off + k]!;
          const wi = twIm[off + k]!;
          const a = start + k;
          const b = a + half;
          const xr = re[b]!;
          const xi = im[b]!;
          const br = xr * wr - xi * wi;
          const bi = xr * wi + xi * wr;
          const ar = re[a]!;
          const ai = im[a]!;
          re[b] = ar - br;
          im[b] = ai - bi;
          re[a] = ar + br;
          im[a] = ai + bi;
        }
      }
      off += half;
    }
  }

  /**
   * The DFT of every column of an n × width row-major array at once (in place): each butterfly combines two
   * whole rows, so the inner loop runs over contiguous memory instead of gathering one strided column at a time.
   */
  runColumns(re: Float64Array, im: Float64Array, width: number, sign: 1 | -1, from = 0, to = width): void {
    const n = this.n;
    if (!this.swaps) {
      const colRe = new Float64Array(n);
      const colIm = new Float64Array(n);
      for (let k = from; k < to; k++) {
        for (let j = 0; j < n; j++) {
          colRe[j] = re[j * width + k]!;
          colIm[j] = im[j * width + k]!;
        }
        this.direct(colRe, colIm, sign);
        for (let j = 0; j < n; j++) {
          re[j * width + k] = colRe[j]!;
          im[j * width + k] = colIm[j]!;
        }
      }
      return;
    }
    const swaps = this.swaps;
    const span = to - from;
    const rowRe = this.tmpRowRe(span);
    const rowIm = this.tmpRowIm!;
    for (let s = 0; s < swaps.length; s += 2) {
      const a = swaps[s]! * width + from;
      const b = swaps[s + 1]! * width + from;
      rowRe.set(re.subarray(a, a + span));
      re.copyWithin(a, b, b + span);
      re.set(rowRe, b);
      rowIm.set(im.subarray(a, a + span));
      im.copyWithin(a, b, b + span);
      im.set(rowIm, b);
    }
    for (let len = 2; len <= n; len <<= 1) {
      const half = len >> 1;
      for (let kk = 0; kk < half; kk++) {
        const angle = (2 * Math.PI * kk) / len;
        const wr = Math.cos(angle);
        const wi = sign * Math.sin(angle);
        for (let start = 0; start < n; start += len) {
          const a = (start + kk) * width;
          const b = a + half * width;
          if (kk === 0) {
            for (let c = from; c < to; c++) {
              const ar = re[a + c]!;
              const ai = im[a + c]!;
              const br = re[b + c]!;
              const bi = im[b + c]!;
              re[a + c] = ar + br;
              im[a + c] = ai + bi;
              re[b + c] = ar - br;
              im[b + c] = ai - bi;
            }
          } else {
            for (let c = from; c < to; c++) {
              const xr = re[b + c]!;
              const xi = im[b + c]!;
              const br = xr * wr - xi * wi;
              const bi = xr * wi + xi * wr;
              const ar = re[a + c]!;
              const ai = im[a + c]!;
              re[b + c] = ar - br;
              im[b + c] = ai - bi;
              re[a + c] = ar + br;
              im[a + c] = ai + bi;
            }
          }
        }
      }
    }
  }

  private rowRe?: Float64Array;
  private tmpRowIm?: Float64Array;
  private tmpRowRe(width: number): Float64Array {
    if (!this.rowRe || this.rowRe.length !== width) {
      this.rowRe = new Float64Array(width);
      this.tmpRowIm = new Float64Array(width);
    }
    return this.rowRe;
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
  const y = new Float64Array(2 * count * s.H * s.WF);
  irfftColumns(spectrum, unitScale(s), count, s, y, 0, s.WF);
  const out = new Float32Array(count * s.h * s.w);
  irfftRows(y, count, s, out, 0, s.h);
  return out;
}

/** The adjoint of irfft2dLoops: dy [N, h, w] → [2, N, H, WF]. */
export function irfft2dAdjointLoops(dy: Float32Array, count: number, s: IrfftShape): Float32Array {
  const y = new Float64Array(2 * count * s.H * s.WF);
  adjointRows(dy, count, s, y, 0, s.h);
  const out = new Float32Array(2 * count * s.H * s.WF);
  adjointColumns(y, unitScale(s), count, s, out, 0, s.WF);
  return out;
}

function unitScale(s: IrfftShape): Float32Array {
  return new Float32Array(s.H * s.WF).fill(1);
}

/**
 * The inverse FFT in two phases that two threads can share (paramKernels.ts), with the spectrum's scale applied on
 * the way in: columns `from` … `to` − 1 of every image's column pass, then (after both threads' columns are done)
 * row pairs from `from` to `to` of every image's row pass. `y` holds the column pass's output, [N, 2, H, WF]
 * (real, then imaginary), between them. Two rows share one complex transform in the row pass: each row's
 * Hermitian spectrum has a real inverse, so row m + i·row m+1 comes back as (real part, imaginary part).
 */
export function irfftColumns(theta: Float32Array, scale: Float32Array, count: number, s: IrfftShape, y: Float64Array, from: number, to: number): void {
  const { H, WF } = s;
  const per = H * WF;
  const imOffset = count * per;
  for (let n = 0; n < count; n++) {
    const yRe = y.subarray(2 * n * per, (2 * n + 1) * per);
    const yIm = y.subarray((2 * n + 1) * per, (2 * n + 2) * per);
    const base = n * per;
    for (let j = 0; j < H; j++) {
      for (let k = from; k < to; k++) {
        const i = j * WF + k;
        // As Float32 (the spectrum irfft2dLoops reads is a Float32Array).
        yRe[i] = Math.fround(theta[base + i]! * scale[i]!);
        yIm[i] = Math.fround(theta[imOffset + base + i]! * scale[i]!);
      }
    }
    plan(H).runColumns(yRe, yIm, WF, 1, from, to);
  }
}

export function irfftRows(y: Float64Array, count: number, s: IrfftShape, out: Float32Array, from: number, to: number): void {
  const { H, WF, h, w } = s;
  const per = H * WF;
  const Nw = 2 * (WF - 1);
  const rows = plan(Nw);
  const rowRe = new Float64Array(Nw);
  const rowIm = new Float64Array(Nw);
  const norm = 1 / (H * Nw);
  for (let n = 0; n < count; n++) {
    const yRe = y.subarray(2 * n * per, (2 * n + 1) * per);
    const yIm = y.subarray((2 * n + 1) * per, (2 * n + 2) * per);
    for (let m = from; m < Math.min(to, h); m += 2) {
      const pair = m + 1 < h;
      const a0 = m * WF;
      const b0 = a0 + WF;
      for (const k of [0, Nw / 2]) {
        rowRe[k] = yRe[a0 + k]!;
        rowIm[k] = pair ? yRe[b0 + k]! : 0;
      }
      for (let k = 1; k < Nw / 2; k++) {
        const ar = yRe[a0 + k]!;
        const ai = yIm[a0 + k]!;
        const br = pair ? yRe[b0 + k]! : 0;
        const bi = pair ? yIm[b0 + k]! : 0;
        rowRe[k] = ar - bi;
        rowIm[k] = ai + br;
        rowRe[Nw - k] = ar + bi;
        rowIm[Nw - k] = br - ai;
      }
      rows.run(rowRe, rowIm, 1);
      const o = (n * h + m) * w;
      for (let x = 0; x < w; x++) out[o + x] = rowRe[x]! * norm;
      if (pair) for (let x = 0; x < w; x++) out[o + w + x] = rowIm[x]! * norm;
    }
  }
}

/**
 * The adjoint in the same two phases: row pairs from `from` to `to` of every image into `y` ([N, 2, H, WF], zero
 * beforehand: rows m ≥ h get no gradient), then columns `from` … `to` − 1, written to `out` ([2, N, H, WF]) with
 * the spectrum's scale applied (the gradient with respect to the parameters).
 */
export function adjointRows(dy: Float32Array, count: number, s: IrfftShape, y: Float64Array, from: number, to: number): void {
  const { H, WF, h, w } = s;
  const per = H * WF;
  const Nw = 2 * (WF - 1);
  const rows = plan(Nw);
  const rowRe = new Float64Array(Nw);
  const rowIm = new Float64Array(Nw);
  const norm = 1 / (H * Nw);
  for (let n = 0; n < count; n++) {
    const yRe = y.subarray(2 * n * per, (2 * n + 1) * per);
    const yIm = y.subarray((2 * n + 1) * per, (2 * n + 2) * per);
    for (let m = from; m < Math.min(to, h); m += 2) {
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
  }
}

export function adjointColumns(y: Float64Array, scale: Float32Array, count: number, s: IrfftShape, out: Float32Array, from: number, to: number): void {
  const { H, WF } = s;
  const per = H * WF;
  const imOffset = count * per;
  for (let n = 0; n < count; n++) {
    const yRe = y.subarray(2 * n * per, (2 * n + 1) * per);
    const yIm = y.subarray((2 * n + 1) * per, (2 * n + 2) * per);
    plan(H).runColumns(yRe, yIm, WF, -1, from, to);
    const base = n * per;
    for (let j = 0; j < H; j++) {
      for (let k = from; k < to; k++) {
        const i = j * WF + k;
        // Rounded to float32 first, as irfft2dAdjointLoops's output is before the scale.
        out[base + i] = Math.fround(yRe[i]!) * scale[i]!;
        out[imOffset + base + i] = Math.fround(yIm[i]!) * scale[i]!;
      }
    }
  }
}
