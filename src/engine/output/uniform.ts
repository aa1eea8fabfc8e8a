/**
 * When a map is "near-uniform": too flat to show where anything is, so the panel labels it instead of
 * stretching it to full colour. Two tests, either suffices:
 *
 * 1. Flat to the eye. The panel colours v / s, s ≈ the map's largest |v| (its 99.5th percentile), on
 *    perceptually uniform colormaps whose lightness spans about 100 L* units. When max − min of the displayed
 *    map is under 2 % of max|v|, the whole map spans about 2 L* units — one just-noticeable difference
 *    (ΔE ≈ 2.3): drawn, it would be one flat colour, a wash that says "everywhere" where the map says
 *    "nowhere in particular" (an all-zero map included).
 * 2. Negligible against the score (Grad-CAM and CAM only). Their low-resolution map is Σ_k α_k A_k in score
 *    units, and its sum over the layer's N positions is the layer's first-order share of the target score
 *    (for a global-average-pooling head, exactly logit − bias). A map whose whole spatial variation,
 *    (max − min) · N, is under 1 % of |score| cannot move the score by 1 % from one place to another:
 *    colouring its differences would show noise as evidence.
 */

/** About one just-noticeable difference of the panel's colormaps, as a fraction of the map's scale. */
export const FLAT_FRACTION = 0.02;
/** Grad-CAM/CAM: the map's spatial variation, summed over the layer, as a fraction of |target score|. */
export const SCORE_FRACTION = 0.01;

export interface UniformInput {
  /** The displayed map (H×W). */
  display: Float32Array;
  /** The low-resolution map of a CAM-style method and its number of positions (H′·W′). */
  lowres?: Float32Array;
  /** The target score the map explains (logit or probability). */
  score: number;
}

function range(values: Float32Array): { min: number; max: number; absMax: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min > max) return { min: 0, max: 0, absMax: 0 };
  return { min, max, absMax: Math.max(Math.abs(min), Math.abs(max)) };
}

/** Why the map is near-uniform (a sentence for its notes), or undefined when it has a visible structure. */
export function nearUniformReason(input: UniformInput): string | undefined {
  const d = range(input.display);
  const spread = d.max - d.min;
  if (d.absMax === 0) return 'near-uniform: the map is zero everywhere';
  if (spread <= d.absMax * FLAT_FRACTION) {
    return `near-uniform: values span ${fmt(d.min)}…${fmt(d.max)}, under ${FLAT_FRACTION * 100} % of their magnitude (less than a visible colour step); drawn without colour`;
  }
  if (input.lowres && input.lowres.length > 0) {
    const low = range(input.lowres);
    const total = (low.max - low.min) * input.lowres.length;
    if (total < SCORE_FRACTION * Math.abs(input.score)) {
      return `near-uniform: the map varies by ${fmt(low.max - low.min)} over ${input.lowres.length} positions, under ${SCORE_FRACTION * 100} % of the target score ${fmt(input.score)}; drawn without colour`;
    }
  }
  return undefined;
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toPrecision(3) : v.toExponential(2);
}
