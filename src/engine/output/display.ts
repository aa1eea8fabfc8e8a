/**
 * Reduces an H × W × C map to the H × W values an overlay shows:
 * - 'absmax': max over channels of |v| (the usual saliency display, Simonyan et al.);
 * - 'sum': Σ_c v, keeps the sign (gradient × input, IG);
 * - 'abssum': Σ_c |v|.
 * A 2-D map (CAM-style, H × W) is returned as is.
 */
export type DisplayReduction = 'absmax' | 'sum' | 'abssum';

export function reduceForDisplay(data: Float32Array, shape: number[], mode: DisplayReduction): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`reduceForDisplay: shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
  }
  if (shape.length === 2) return data;
  if (shape.length !== 3) throw new RangeError(`reduceForDisplay: expected [H, W] or [H, W, C], got [${shape.join(', ')}]`);
  const [h, w, c] = shape as [number, number, number];
  const out = new Float32Array(h * w);
  for (let i = 0; i < h * w; i++) {
    let acc = 0;
    for (let k = 0; k < c; k++) {
      const v = data[i * c + k]!;
      if (mode === 'absmax') acc = Math.max(acc, Math.abs(v));
      else if (mode === 'sum') acc += v;
      else acc += Math.abs(v);
    }
    out[i] = acc;
  }
  return out;
}
