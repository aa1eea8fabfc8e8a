/** The part of jstat (no bundled types) that Loupe calls. */
declare module 'jstat' {
  export const jStat: {
    /** Regularised incomplete beta function I_x(a, b). */
    ibeta(x: number, a: number, b: number): number;
    normal: { cdf(x: number, mean: number, std: number): number };
  };
}
