/**
 * Concept activation vectors, fitted in the Gram (dual) space. Activations are flattened (H·W·C can
 * be 10⁵) and a CAV sees ~100 of them, so every solver works on the n × n inner products K = A Aᵀ
 * (computed once per layer for all images, gram.ts) and returns the CAV as v = Σ a_j x_j over its
 * training images: exact, and its cost does not depend on the layer's size.
 *   logistic: L2-regularised logistic regression, ½‖w‖² + C Σ log(1 + e^(−y(w·x+b))), C = 1, intercept
 *             not penalised (sklearn's LogisticRegression defaults, tensorflow/tcav's 'logistic'). By the
 *             representer theorem w lies in the span of the training images; Newton's method on (a, b)
 *             with a line search reaches the optimum to machine precision in ~10 steps.
 *   sgd:      hinge-loss SGD with α = 0.01, max_iter 1000, tol 1e-3, 'optimal' learning rate, seeded
 *             shuffling (sklearn's SGDClassifier as tensorflow/tcav configures it), run on a = the
 *             coefficients of w, so each step costs O(n) instead of O(H·W·C).
 *   mean:     FastCAV (Schmalwasser et al. 2025): v = mean(concept) − mean(random), threshold halfway.
 * The concept is the positive class, so v points towards the concept.
 */
import type { TcavCavKind } from '../../protocol/tcav';
import { mulberry32 } from '../random';
import type { CavSplit } from './plan';

export interface CavFit {
  /** Indices (into the layer's Gram) of the training images, positives first. */
  train: number[];
  /** v = Σ coef[j] · x[train[j]]. */
  coef: Float64Array;
  bias: number;
  /** ‖v‖. */
  norm: number;
  /** Held-out accuracy. */
  accuracy: number;
}

/** sklearn's LogisticRegression default C. */
export const LOGISTIC_C = 1;
/** tensorflow/tcav's SGDClassifier hyper-parameters. */
export const SGD_PARAMS = Object.freeze({ alpha: 0.01, maxIter: 1000, tol: 1e-3, nIterNoChange: 5 });

/** The submatrix of the n × n Gram `gram` on rows `rows` and columns `cols`. */
function sub(gram: Float64Array, n: number, rows: number[], cols: number[]): Float64Array {
  const out = new Float64Array(rows.length * cols.length);
  rows.forEach((r, i) => cols.forEach((c, j) => { out[i * cols.length + j] = gram[r * n + c]!; }));
  return out;
}

function matVec(K: Float64Array, a: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += K[i * m + j]! * a[j]!;
    out[i] = s;
  }
  return out;
}

/** Solves M x = r (M: k × k, row-major, overwritten) by Gaussian elimination with partial pivoting. */
export function solveInPlace(M: Float64Array, r: Float64Array, k: number): Float64Array {
  for (let col = 0; col < k; col++) {
    let pivot = col;
    for (let row = col + 1; row < k; row++) if (Math.abs(M[row * k + col]!) > Math.abs(M[pivot * k + col]!)) pivot = row;
    if (pivot !== col) {
      for (let j = 0; j < k; j++) [M[col * k + j], M[pivot * k + j]] = [M[pivot * k + j]!, M[col * k + j]!];
      [r[col], r[pivot]] = [r[pivot]!, r[col]!];
    }
    const d = M[col * k + col]!;
    if (d === 0) continue; // a direction the objective does not see: left at 0
    for (let row = col + 1; row < k; row++) {
      const f = M[row * k + col]! / d;
      if (f === 0) continue;
      for (let j = col; j < k; j++) M[row * k + j]! -= f * M[col * k + j]!;
      r[row]! -= f * r[col]!;
    }
  }
  const x = new Float64Array(k);
  for (let row = k - 1; row >= 0; row--) {
    let s = r[row]!;
    for (let j = row + 1; j < k; j++) s -= M[row * k + j]! * x[j]!;
    const d = M[row * k + row]!;
    x[row] = d === 0 ? 0 : s / d;
  }
  return x;
}

const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** Newton on (a, b) for ½ aᵀKa + C Σ softplus(−y(Ka + b)); see the file comment. */
export function logisticDual(K: Float64Array, y: Float64Array, C = LOGISTIC_C): { a: Float64Array; b: number } {
  const m = y.length;
  let a = new Float64Array(m);
  let b = 0;
  let Ka = new Float64Array(m);
  const objective = (ka: Float64Array, av: Float64Array, bv: number): number => {
    let s = 0;
    for (let i = 0; i < m; i++) s += 0.5 * av[i]! * ka[i]! + C * softplus(-y[i]! * (ka[i]! + bv));
    return s;
  };
  let f = objective(Ka, a, b);
  for (let iter = 0; iter < 100; iter++) {
    const r = new Float64Array(m);
    const w = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const p = sigmoid(y[i]! * (Ka[i]! + b)); // probability of the right label
      r[i] = -y[i]! * (1 - p);
      w[i] = p * (1 - p);
    }
    // Newton system premultiplied by K⁻¹ on its first block (see the derivation in the file comment):
    // [I + C W K, C W 1; 1ᵀ W K, 1ᵀ W 1] [Δa; Δb] = −[a + C r; 1ᵀ r].
    const k = m + 1;
    const M = new Float64Array(k * k);
    const rhs = new Float64Array(k);
    let sumW = 0;
    let sumR = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        M[i * k + j] = (i === j ? 1 : 0) + C * w[i]! * K[i * m + j]!;
        M[m * k + j]! += w[i]! * K[i * m + j]!;
      }
      M[i * k + m] = C * w[i]!;
      sumW += w[i]!;
      sumR += r[i]!;
      rhs[i] = -(a[i]! + C * r[i]!);
    }
    M[m * k + m] = sumW + 1e-300;
    rhs[m] = -sumR;
    const step = solveInPlace(M, rhs, k);
    const da = step.subarray(0, m);
    const db = step[m]!;
    // Newton decrement −∇fᵀΔ with ∇_a f = K(a + C r), ∇_b f = C Σ r.
    const gradA = matVec(K, Float64Array.from(a, (ai, i) => ai + C * r[i]!), m);
    let decrement = -C * sumR * db;
    for (let i = 0; i < m; i++) decrement -= gradA[i]! * da[i]!;
    if (!(decrement > 1e-13 * Math.max(1, Math.abs(f)))) break;
    const KDa = matVec(K, Float64Array.from(da), m);
    let t = 1;
    for (;;) {
      const an = Float64Array.from(a, (ai, i) => ai + t * da[i]!);
      const kn = Float64Array.from(Ka, (v, i) => v + t * KDa[i]!);
      const fn = objective(kn, an, b + t * db);
      if (fn <= f - 0.25 * t * decrement || t < 1e-12) {
        a = an;
        Ka = kn;
        b += t * db;
        f = fn;
        break;
      }
      t /= 2;
    }
  }
  return { a, b };
}

/** sklearn's plain SGD with the hinge loss and the 'optimal' schedule, on w = wscale · Σ a_j x_j. */
export function hingeSgdDual(K: Float64Array, y: Float64Array, seed: number, params = SGD_PARAMS): { a: Float64Array; b: number } {
  const m = y.length;
  const { alpha } = params;
  const typw = Math.sqrt(1 / Math.sqrt(alpha));
  const eta0 = typw / Math.max(1, 1); // hinge: |dloss(−typw, 1)| = 1
  const optimalInit = 1 / (eta0 * alpha);
  const a = new Float64Array(m);
  const Ka = new Float64Array(m); // K a, without wscale
  let wscale = 1;
  let b = 0;
  let t = 1;
  let best = Infinity;
  let noImprovement = 0;
  const rand = mulberry32(seed);
  const order = Array.from({ length: m }, (_, i) => i);
  for (let epoch = 0; epoch < params.maxIter; epoch++) {
    for (let i = m - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let sumLoss = 0;
    for (const i of order) {
      const p = wscale * Ka[i]! + b;
      const eta = 1 / (alpha * (optimalInit + t - 1));
      const z = p * y[i]!;
      sumLoss += Math.max(0, 1 - z);
      const update = z <= 1 ? eta * y[i]! : 0;
      wscale *= Math.max(0, 1 - eta * alpha);
      if (update !== 0) {
        const da = update / wscale;
        a[i]! += da;
        for (let j = 0; j < m; j++) Ka[j]! += da * K[j * m + i]!;
        b += update;
      }
      if (wscale < 1e-9) {
        for (let j = 0; j < m; j++) { a[j]! *= wscale; Ka[j]! *= wscale; }
        wscale = 1;
      }
      t++;
    }
    if (sumLoss > best - params.tol * m) noImprovement++;
    else noImprovement = 0;
    if (sumLoss < best) best = sumLoss;
    if (noImprovement >= params.nIterNoChange) break;
  }
  for (let j = 0; j < m; j++) a[j]! *= wscale;
  return { a, b };
}

/** FastCAV: a = +1/n₊ on the concept, −1/n₋ on the random images; the threshold halfway between the means' projections. */
export function meanDifferenceDual(K: Float64Array, y: Float64Array): { a: Float64Array; b: number } {
  const m = y.length;
  const pos = y.filter((v) => v > 0).length;
  const a = Float64Array.from(y, (v) => (v > 0 ? 1 / pos : -1 / (m - pos)));
  const Ka = matVec(K, a, m);
  let meanPos = 0;
  let meanNeg = 0;
  for (let i = 0; i < m; i++) {
    if (y[i]! > 0) meanPos += Ka[i]! / pos;
    else meanNeg += Ka[i]! / (m - pos);
  }
  return { a, b: -(meanPos + meanNeg) / 2 };
}

/** Fits one CAV on the images of `split` from the layer's Gram (`n` × `n`); `seed` drives SGD's shuffling. */
export function fitCav(kind: TcavCavKind, gram: Float64Array, n: number, split: CavSplit, seed: number): CavFit {
  const train = [...split.trainPos, ...split.trainNeg];
  const y = Float64Array.from(train, (_, i) => (i < split.trainPos.length ? 1 : -1));
  const K = sub(gram, n, train, train);
  const { a, b } = kind === 'logistic' ? logisticDual(K, y) : kind === 'sgd' ? hingeSgdDual(K, y, seed) : meanDifferenceDual(K, y);
  const norm = Math.sqrt(Math.max(0, matVec(K, a, train.length).reduce((s, v, i) => s + v * a[i]!, 0)));
  const test = [...split.testPos, ...split.testNeg];
  const Kt = sub(gram, n, test, train);
  let correct = 0;
  test.forEach((_, i) => {
    let d = b;
    for (let j = 0; j < train.length; j++) d += Kt[i * train.length + j]! * a[j]!;
    if ((d > 0) === (i < split.testPos.length)) correct++;
  });
  return { train, coef: a, bias: b, norm, accuracy: test.length ? correct / test.length : NaN };
}
