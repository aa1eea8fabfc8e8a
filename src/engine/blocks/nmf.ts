/**
 * Non-negative matrix factorisation A ≈ W·H (A: n × m ≥ 0, W: n × k, H: k × m), for Lucid's neuron groups
 * (lucid/misc/channel_reducer.py: sklearn's NMF on the activations reshaped to [positions, channels]).
 * Written here because no NMF package exists on npm. Same algorithm as sklearn's default: NNDSVDa
 * initialisation (Boutsidis & Gallopoulos 2008, zeros filled with the mean of A) and coordinate descent on the
 * Frobenius loss (HALS: each column of W, then each row of H, solved exactly in turn), stopping when the
 * projected-gradient violation falls below tol × the first iteration's (sklearn's rule) or after maxIter.
 */
import { mulberry32 } from '../random';

export interface NmfOptions {
  /** sklearn's defaults: tol 1e-4, max_iter 200. */
  tol?: number;
  maxIter?: number;
  /** Seed of the subspace iteration that finds the leading singular vectors for the initialisation. */
  seed?: number;
}

export interface NmfResult {
  /** n × k, row-major. */
  W: Float64Array;
  /** k × m, row-major. */
  H: Float64Array;
  k: number;
  iterations: number;
  /** ‖A − WH‖_F / ‖A‖_F. */
  relativeError: number;
}

/** Leading k singular triplets of A (n × m), by subspace iteration on the smaller Gram matrix, then Rayleigh–Ritz. */
export function truncatedSvd(A: ArrayLike<number>, n: number, m: number, k: number, seed = 0): { U: Float64Array; S: Float64Array; V: Float64Array } {
  const small = Math.min(n, m);
  const rows = n <= m; // Gram = A Aᵀ (n × n) when n ≤ m, else Aᵀ A (m × m)
  const G = new Float64Array(small * small);
  if (rows) {
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) {
      let s = 0;
      for (let c = 0; c < m; c++) s += A[i * m + c]! * A[j * m + c]!;
      G[i * n + j] = s;
      G[j * n + i] = s;
    }
  } else {
    for (let r = 0; r < n; r++) for (let i = 0; i < m; i++) {
      const a = A[r * m + i]!;
      if (a === 0) continue;
      for (let j = i; j < m; j++) G[i * m + j]! += a * A[r * m + j]!;
    }
    for (let i = 0; i < m; i++) for (let j = 0; j < i; j++) G[i * m + j] = G[j * m + i]!;
  }
  const q = Math.min(small, k + 4); // a few extra vectors speed convergence of the k wanted
  const rand = mulberry32(seed + 1);
  let Q = Float64Array.from({ length: small * q }, () => rand() - 0.5);
  orthonormalize(Q, small, q);
  const Z = new Float64Array(small * q);
  for (let it = 0; it < 300; it++) {
    multiply(G, Q, Z, small, q);
    const prev = Q;
    Q = Z.slice();
    orthonormalize(Q, small, q);
    // converged when the subspace stops moving: |cos| of each column with its predecessor ≈ 1
    let worst = 1;
    for (let c = 0; c < k; c++) {
      let d = 0;
      for (let i = 0; i < small; i++) d += Q[i * q + c]! * prev[i * q + c]!;
      worst = Math.min(worst, Math.abs(d));
    }
    if (it > 5 && worst > 1 - 1e-12) break;
  }
  // Rayleigh–Ritz: T = Qᵀ G Q (q × q), eigenvectors by Jacobi, sorted descending.
  multiply(G, Q, Z, small, q);
  const T = new Float64Array(q * q);
  for (let a = 0; a < q; a++) for (let b = 0; b < q; b++) {
    let s = 0;
    for (let i = 0; i < small; i++) s += Q[i * q + a]! * Z[i * q + b]!;
    T[a * q + b] = s;
  }
  const { values, vectors } = jacobiEigen(T, q);
  const order = [...values.keys()].sort((a, b) => values[b]! - values[a]!).slice(0, k);
  const S = new Float64Array(k);
  const left = new Float64Array(small * k); // eigenvectors of G
  order.forEach((e, c) => {
    S[c] = Math.sqrt(Math.max(0, values[e]!));
    for (let i = 0; i < small; i++) {
      let s = 0;
      for (let b = 0; b < q; b++) s += Q[i * q + b]! * vectors[b * q + e]!;
      left[i * k + c] = s;
    }
  });
  // The other side: v = Aᵀu / σ (or u = Av / σ).
  const big = rows ? m : n;
  const other = new Float64Array(big * k);
  for (let c = 0; c < k; c++) {
    if (S[c]! === 0) continue;
    for (let j = 0; j < big; j++) {
      let s = 0;
      for (let i = 0; i < small; i++) s += (rows ? A[i * m + j]! : A[j * m + i]!) * left[i * k + c]!;
      other[j * k + c] = s / S[c]!;
    }
  }
  return rows ? { U: left, S, V: other } : { U: other, S, V: left };
}

/** Modified Gram–Schmidt on the q columns of X (rows × q, row-major), in place. */
function orthonormalize(X: Float64Array, rows: number, q: number): void {
  for (let c = 0; c < q; c++) {
    for (let p = 0; p < c; p++) {
      let d = 0;
      for (let i = 0; i < rows; i++) d += X[i * q + c]! * X[i * q + p]!;
      for (let i = 0; i < rows; i++) X[i * q + c]! -= d * X[i * q + p]!;
    }
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += X[i * q + c]! ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < rows; i++) X[i * q + c] = norm > 0 ? X[i * q + c]! / norm : (i === c ? 1 : 0);
  }
}

/** Z = G · Q (G: s × s, Q: s × q). */
function multiply(G: Float64Array, Q: Float64Array, Z: Float64Array, s: number, q: number): void {
  Z.fill(0);
  for (let i = 0; i < s; i++) for (let l = 0; l < s; l++) {
    const g = G[i * s + l]!;
    if (g === 0) continue;
    for (let c = 0; c < q; c++) Z[i * q + c]! += g * Q[l * q + c]!;
  }
}

/** Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations; vectors in columns. */
function jacobiEigen(T: Float64Array, q: number): { values: Float64Array; vectors: Float64Array } {
  const a = T.slice();
  const v = new Float64Array(q * q);
  for (let i = 0; i < q; i++) v[i * q + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < q; p++) for (let r = p + 1; r < q; r++) off += a[p * q + r]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < q; p++) for (let r = p + 1; r < q; r++) {
      const apr = a[p * q + r]!;
      if (Math.abs(apr) < 1e-300) continue;
      const theta = (a[r * q + r]! - a[p * q + p]!) / (2 * apr);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let i = 0; i < q; i++) {
        const aip = a[i * q + p]!;
        const air = a[i * q + r]!;
        a[i * q + p] = c * aip - s * air;
        a[i * q + r] = s * aip + c * air;
      }
      for (let i = 0; i < q; i++) {
        const api = a[p * q + i]!;
        const ari = a[r * q + i]!;
        a[p * q + i] = c * api - s * ari;
        a[r * q + i] = s * api + c * ari;
      }
      for (let i = 0; i < q; i++) {
        const vip = v[i * q + p]!;
        const vir = v[i * q + r]!;
        v[i * q + p] = c * vip - s * vir;
        v[i * q + r] = s * vip + c * vir;
      }
    }
  }
  return { values: Float64Array.from({ length: q }, (_, i) => a[i * q + i]!), vectors: v };
}

/** sklearn's `_initialize_nmf(init='nndsvda')`. */
function nndsvda(A: ArrayLike<number>, n: number, m: number, k: number, seed: number): { W: Float64Array; H: Float64Array } {
  const { U, S, V } = truncatedSvd(A, n, m, k, seed);
  const W = new Float64Array(n * k);
  const H = new Float64Array(k * m);
  for (let i = 0; i < n; i++) W[i * k] = Math.sqrt(S[0]!) * Math.abs(U[i * k]!);
  for (let j = 0; j < m; j++) H[j] = Math.sqrt(S[0]!) * Math.abs(V[j * k]!);
  for (let c = 1; c < k; c++) {
    const x = Float64Array.from({ length: n }, (_, i) => U[i * k + c]!);
    const y = Float64Array.from({ length: m }, (_, j) => V[j * k + c]!);
    const pos = (z: Float64Array) => z.map((t) => Math.max(t, 0));
    const neg = (z: Float64Array) => z.map((t) => Math.max(-t, 0));
    const norm = (z: Float64Array) => Math.sqrt(z.reduce((s, t) => s + t * t, 0));
    const [xp, xn, yp, yn] = [pos(x), neg(x), pos(y), neg(y)];
    const [xpn, xnn, ypn, ynn] = [norm(xp), norm(xn), norm(yp), norm(yn)];
    const mp = xpn * ypn;
    const mn = xnn * ynn;
    const [u, v, sigma] = mp > mn ? [xp.map((t) => t / xpn), yp.map((t) => t / ypn), mp] : [xn.map((t) => t / xnn), yn.map((t) => t / ynn), mn];
    const lbd = Math.sqrt(S[c]! * sigma);
    for (let i = 0; i < n; i++) W[i * k + c] = lbd * (Number.isFinite(u[i]!) ? u[i]! : 0);
    for (let j = 0; j < m; j++) H[c * m + j] = lbd * (Number.isFinite(v[j]!) ? v[j]! : 0);
  }
  let mean = 0;
  for (let i = 0; i < n * m; i++) mean += A[i]!;
  mean /= n * m;
  const eps = 1e-6;
  for (const X of [W, H]) for (let i = 0; i < X.length; i++) if (X[i]! < eps) X[i] = mean;
  return { W, H };
}

/**
 * One HALS sweep over the columns of X (rows × k) given P = Y·Yᵀ (k × k) and B = A·Yᵀ (rows × k): for each
 * component t, X[:, t] ← max(0, X[:, t] − (X·P[:, t] − B[:, t]) / P[t, t]). Returns the projected-gradient violation.
 */
function sweep(X: Float64Array, rows: number, k: number, P: Float64Array, B: Float64Array): number {
  let violation = 0;
  for (let t = 0; t < k; t++) {
    const hess = P[t * k + t]!;
    for (let i = 0; i < rows; i++) {
      let grad = -B[i * k + t]!;
      for (let r = 0; r < k; r++) grad += X[i * k + r]! * P[r * k + t]!;
      const x = X[i * k + t]!;
      violation += Math.abs(x === 0 ? Math.min(0, grad) : grad);
      if (hess !== 0) X[i * k + t] = Math.max(x - grad / hess, 0);
    }
  }
  return violation;
}

/** NMF of A (n × m, non-negative, row-major) into k components. */
export function nmf(A: ArrayLike<number>, n: number, m: number, k: number, options: NmfOptions = {}): NmfResult {
  if (!(k >= 1 && k <= Math.min(n, m))) throw new RangeError(`nmf: k = ${k} must be in 1 … min(${n}, ${m})`);
  for (let i = 0; i < n * m; i++) if (!(A[i]! >= 0)) throw new RangeError(`nmf: A[${i}] = ${A[i]} is negative or not a number`);
  const tol = options.tol ?? 1e-4;
  const maxIter = options.maxIter ?? 200;
  const { W, H } = nndsvda(A, n, m, k, options.seed ?? 0);
  // HALS on H works on Hᵀ (m × k), so both sweeps share one routine.
  const Ht = new Float64Array(m * k);
  for (let c = 0; c < k; c++) for (let j = 0; j < m; j++) Ht[j * k + c] = H[c * m + j]!;
  const P = new Float64Array(k * k);
  const BW = new Float64Array(n * k);
  const BH = new Float64Array(m * k);
  let first = 0;
  let iterations = 0;
  for (let it = 0; it < maxIter; it++) {
    iterations = it + 1;
    // W step: P = H Hᵀ, B = A Hᵀ
    gram(Ht, m, k, P);
    BW.fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
      const a = A[i * m + j]!;
      if (a === 0) continue;
      for (let c = 0; c < k; c++) BW[i * k + c]! += a * Ht[j * k + c]!;
    }
    let violation = sweep(W, n, k, P, BW);
    // H step: P = Wᵀ W, B = Aᵀ W
    gram(W, n, k, P);
    BH.fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
      const a = A[i * m + j]!;
      if (a === 0) continue;
      for (let c = 0; c < k; c++) BH[j * k + c]! += a * W[i * k + c]!;
    }
    violation += sweep(Ht, m, k, P, BH);
    if (it === 0) first = violation;
    if (first === 0 || violation / first <= tol) break;
  }
  for (let c = 0; c < k; c++) for (let j = 0; j < m; j++) H[c * m + j] = Ht[j * k + c]!;
  return { W, H, k, iterations, relativeError: relativeError(A, W, H, n, m, k) };
}

/** P = Xᵀ X for X (rows × k). */
function gram(X: Float64Array, rows: number, k: number, P: Float64Array): void {
  P.fill(0);
  for (let i = 0; i < rows; i++) for (let a = 0; a < k; a++) {
    const x = X[i * k + a]!;
    if (x === 0) continue;
    for (let b = 0; b < k; b++) P[a * k + b]! += x * X[i * k + b]!;
  }
}

export function relativeError(A: ArrayLike<number>, W: ArrayLike<number>, H: ArrayLike<number>, n: number, m: number, k: number): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let c = 0; c < k; c++) s += W[i * k + c]! * H[c * m + j]!;
    const a = A[i * m + j]!;
    num += (a - s) ** 2;
    den += a * a;
  }
  return den > 0 ? Math.sqrt(num / den) : 0;
}
