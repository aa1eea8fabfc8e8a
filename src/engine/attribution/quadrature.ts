import type { IgRule } from '../../protocol/types';

/** Points α ∈ [0, 1] and weights (summing to 1) for ∫₀¹ g(α) dα. */
export function quadrature(rule: IgRule, n: number): { alphas: number[]; weights: number[] } {
  if (rule === 'riemann_middle') {
    return { alphas: range(n, (i) => (i + 0.5) / n), weights: range(n, () => 1 / n) };
  }
  if (rule === 'riemann_trapezoid') {
    if (n === 1) return { alphas: [1], weights: [1] };
    return { alphas: range(n, (i) => i / (n - 1)), weights: range(n, (i) => (i === 0 || i === n - 1 ? 0.5 : 1) / (n - 1)) };
  }
  return gaussLegendre(n);
}

function range(n: number, f: (i: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

/** Nodes are the roots of the Legendre polynomial P_n (Newton from Chebyshev guesses), mapped to [0, 1]. */
function gaussLegendre(n: number): { alphas: number[]; weights: number[] } {
  const alphas: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < n; i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) {
        const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      const pn = n === 1 ? x : p1;
      const pPrev = n === 1 ? 1 : p0;
      dp = (n * (x * pn - pPrev)) / (x * x - 1);
      const dx = pn / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    alphas.push((1 - x) / 2);
    weights.push(1 / ((1 - x * x) * dp * dp));
  }
  return { alphas, weights };
}
