/**
 * TensorFlow's AdamOptimizer (Lucid's optimiser), on a flat parameter vector, ascending the objective
 * (Lucid minimises −objective: the same update). Plain JS: the vector is small (~100k values at 128 px).
 *   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  θ ← θ + lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)
 */
export class Adam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;

  constructor(size: number, readonly lr: number, readonly beta1: number, readonly beta2: number, readonly epsilon: number) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /** One ascent step on `theta` (in place) along the objective's gradient `g`. */
  ascend(theta: Float32Array, g: Float32Array): void {
    if (g.length !== theta.length || g.length !== this.m.length) throw new Error('internal: Adam parameter size changed');
    this.t++;
    const { beta1: b1, beta2: b2, epsilon } = this;
    const lrT = (this.lr * Math.sqrt(1 - b2 ** this.t)) / (1 - b1 ** this.t);
    const m = this.m;
    const v = this.v;
    for (let i = 0; i < theta.length; i++) {
      const gi = g[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      theta[i] = theta[i]! + (lrT * m[i]!) / (Math.sqrt(v[i]!) + epsilon);
    }
  }
}
