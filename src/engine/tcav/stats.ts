/**
 * TCAV's significance test: the concept's scores over N runs against the N random-vs-random runs'
 * scores, two-sided Student t-test with pooled variance (scipy.stats.ttest_ind's default, which
 * tensorflow/tcav uses), Bonferroni-corrected over the concepts × layers tested.
 */
import { jStat } from 'jstat';
import { mean, sampleStandardDeviation, sampleVariance } from 'simple-statistics';

export interface TTest {
  t: number;
  /** Two-sided; NaN when the test is undefined (both samples constant and equal), as scipy. */
  p: number;
  df: number;
}

/** scipy.stats.ttest_ind(a, b) with equal_var=True. */
export function ttestInd(a: readonly number[], b: readonly number[]): TTest {
  const n1 = a.length;
  const n2 = b.length;
  const df = n1 + n2 - 2;
  if (n1 < 2 || n2 < 2) return { t: NaN, p: NaN, df };
  const pooled = ((n1 - 1) * sampleVariance([...a]) + (n2 - 1) * sampleVariance([...b])) / df;
  const t = (mean([...a]) - mean([...b])) / Math.sqrt(pooled * (1 / n1 + 1 / n2));
  return { t, p: twoSidedP(t, df), df };
}

/**
 * P(|T| ≥ |t|) for Student's t with `df` degrees of freedom, as the regularised incomplete beta
 * I_{df/(df+t²)}(df/2, 1/2): exact in the far tail, where 1 − CDF would round to 0.
 */
export function twoSidedP(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return Math.min(1, jStat.ibeta(df / (df + t * t), df / 2, 0.5));
}

export function sampleStd(values: readonly number[]): number {
  return values.length < 2 ? 0 : sampleStandardDeviation([...values]);
}

export function average(values: readonly number[]): number {
  return values.length === 0 ? NaN : mean([...values]);
}
