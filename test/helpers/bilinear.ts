/** Bilinear resize of a square map with half-pixel centres (as tf.image.resizeBilinear(…, halfPixelCenters)), by hand. */
export function upsampleByHand(m: number[][], size: number): number[][] {
  const n = m.length;
  const at = (v: number) => Math.min(n - 1, Math.max(0, v));
  return Array.from({ length: size }, (_, y) => Array.from({ length: size }, (_, x) => {
    const sy = Math.max(0, (y + 0.5) * (n / size) - 0.5);
    const sx = Math.max(0, (x + 0.5) * (n / size) - 0.5);
    const y0 = Math.floor(sy); const x0 = Math.floor(sx);
    const fy = sy - y0; const fx = sx - x0;
    const v = (a: number, b: number) => m[at(a)]![at(b)]!;
    return (v(y0, x0) * (1 - fx) + v(y0, x0 + 1) * fx) * (1 - fy) + (v(y0 + 1, x0) * (1 - fx) + v(y0 + 1, x0 + 1) * fx) * fy;
  }));
}
