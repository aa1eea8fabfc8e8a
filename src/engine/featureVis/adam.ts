/**
 * TensorFlow's AdamOptimizer (Lucid's optimiser), on a flat parameter vector, ascending the objective
 * (Lucid minimises −objective: the same update). Plain JS: the vector is small (~100k values at 128 px).
 *   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  θ ← θ + lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)
 */
export class Adam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;

  /** `alloc`: where the moments live (shared memory when two threads update them: featureVis/paramThreads.ts). */
  constructor(size: number, readonly lr: number, readonly beta1: number, readonly beta2: number, readonly epsilon: number,
    alloc: (length: number) => Float32Array = (n) => new Float32Array(n)) {
    this.m = alloc(size);
    this.v = alloc(size);
  }

  /**
   * One ascent step on `theta` (in place) along the objective's gradient `g`; `run(from, to, args)` updates the
   * values from … to − 1 (by default all here; a caller may share the range between threads).
   */
  ascend(theta: Float32Array, g: Float32Array, run: (args: AdamStep, from: number, to: number) => void = adamRange): void {
    if (g.length !== theta.length || g.length !== this.m.length) throw new Error('internal: Adam parameter size changed');
    this.t++;
    const { beta1, beta2, epsilon } = this;
    const lrT = (this.lr * Math.sqrt(1 - beta2 ** this.t)) / (1 - beta1 ** this.t);
    run({ theta, g, m: this.m, v: this.v, lrT, beta1, beta2, epsilon }, 0, theta.length);
  }
}

export interface AdamStep {
  theta: Float32Array;
  g: Float32Array;
  m: Float32Array;
  v: Float32Array;
  lrT: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** The update of values `from` … `to` − 1. */
export function adamRange(a: AdamStep, from: number, to: number): void {
  const { theta, g, m, v, lrT, beta1: b1, beta2: b2, epsilon } = a;
  for (let i = from; i < to; i++) {
    const gi = g[i]!;
    // Rounded to float32 where stored, as before: the update reads the stored moments.
    const mi = Math.fround(b1 * m[i]! + (1 - b1) * gi);
    const vi = Math.fround(b2 * v[i]! + (1 - b2) * gi * gi);
    m[i] = mi;
    v[i] = vi;
    theta[i] = theta[i]! + (lrT * mi) / (Math.sqrt(vi) + epsilon);
  }
}
