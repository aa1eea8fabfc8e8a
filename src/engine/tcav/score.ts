/**
 * TCAV scores of one CAV: the directional derivative of the class logit along the unit CAV at each
 * class image, S_k = ∇h f_class(x_k) · v / ‖v‖ = Σ_j coef_j (g_k · x_j) / ‖v‖, read from the
 * class-gradient × activation products computed once per layer (gram.ts).
 */
import type { TcavRun } from '../../protocol/tcav';
import type { CavFit } from './cav';

/** Directional derivatives at the class images; `cross` is nClass × n (gradient · activation). */
export function directionalDerivatives(cav: CavFit, cross: Float64Array, n: number, nClass: number): Float64Array {
  const out = new Float64Array(nClass);
  if (!(cav.norm > 0)) return out;
  for (let k = 0; k < nClass; k++) {
    let s = 0;
    for (let j = 0; j < cav.train.length; j++) s += cav.coef[j]! * cross[k * n + cav.train[j]!]!;
    out[k] = s / cav.norm;
  }
  return out;
}

/** The TCAV score (fraction of class images with S > 0, as Captum's sign count) and Captum's magnitude score. */
export function tcavRun(cav: CavFit, derivatives: Float64Array): TcavRun {
  let positive = 0;
  let up = 0;
  let total = 0;
  for (const s of derivatives) {
    if (s > 0) { positive++; up += s; }
    total += Math.abs(s);
  }
  return { cavAccuracy: cav.accuracy, score: positive / derivatives.length, magnitude: total > 0 ? up / total : 0 };
}
