/**
 * The arithmetic of network dissection, per probe image: a unit's activation map is upsampled
 * (bilinear, half-pixel centres) to the segmentation's size and thresholded at T_k; the resulting
 * mask M_k is counted against every concept's mask L_c:
 *   IoU(k, c) = Σ_images |M_k ∩ L_c| / Σ_images |M_k ∪ L_c|
 * where, as in NetDissect, a unit's pixels count towards the union only in images whose annotation
 * covers c's category. Why it is fast: a bilinear value is a convex combination of at most four
 * cells, so it can exceed T_k only next to a cell that does; units with no such cell in an image are
 * skipped, and the others are evaluated only on rows and columns that touch one.
 */
import type { Segmentation } from './probe/types';

/** For each output index: the two source cells and the weight of the second (half-pixel centres, clamped). */
export interface Taps {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float32Array;
}

const tapCache = new Map<string, Taps>();

export function bilinearTaps(inSize: number, outSize: number): Taps {
  const key = `${inSize}>${outSize}`;
  let taps = tapCache.get(key);
  if (taps) return taps;
  taps = { lo: new Int32Array(outSize), hi: new Int32Array(outSize), frac: new Float32Array(outSize) };
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = (o + 0.5) * scale - 0.5;
    const lo = Math.min(inSize - 1, Math.max(0, Math.floor(src)));
    taps.lo[o] = lo;
    taps.hi[o] = Math.min(inSize - 1, lo + 1);
    taps.frac[o] = Math.min(1, Math.max(0, src - lo));
  }
  if (tapCache.size > 64) tapCache.clear();
  tapCache.set(key, taps);
  return taps;
}

/** One unit's activation map inside a channel-last block: value (y, x) is at offset + (y·w + x)·stride. */
export interface UnitMap {
  values: Float32Array;
  offset: number;
  stride: number;
  height: number;
  width: number;
}

/**
 * Calls `visit(p)` for every pixel p (row-major, outH × outW) of the upsampled map above `threshold`;
 * returns how many there were.
 */
export function forEachActivePixel(map: UnitMap, threshold: number, outH: number, outW: number, visit?: (p: number) => void): number {
  const { values, offset, stride, height: h, width: w } = map;
  const hotRow = new Uint8Array(h);
  const hotCol = new Uint8Array(w);
  let any = false;
  for (let y = 0, i = offset; y < h; y++) {
    for (let x = 0; x < w; x++, i += stride) {
      if (values[i]! > threshold) {
        hotRow[y] = 1;
        hotCol[x] = 1;
        any = true;
      }
    }
  }
  if (!any) return 0;
  const ty = bilinearTaps(h, outH);
  const tx = bilinearTaps(w, outW);
  const cols: number[] = [];
  for (let x = 0; x < outW; x++) if (hotCol[tx.lo[x]!] || hotCol[tx.hi[x]!]) cols.push(x);
  let active = 0;
  for (let y = 0; y < outH; y++) {
    const y0 = ty.lo[y]!;
    const y1 = ty.hi[y]!;
    if (!hotRow[y0] && !hotRow[y1]) continue;
    const fy = ty.frac[y]!;
    const r0 = offset + y0 * w * stride;
    const r1 = offset + y1 * w * stride;
    for (const x of cols) {
      const x0 = tx.lo[x]! * stride;
      const x1 = tx.hi[x]! * stride;
      const fx = tx.frac[x]!;
      const top = values[r0 + x0]! + (values[r0 + x1]! - values[r0 + x0]!) * fx;
      const bottom = values[r1 + x0]! + (values[r1 + x1]! - values[r1 + x0]!) * fx;
      if (top + (bottom - top) * fy > threshold) {
        active++;
        visit?.(y * outW + x);
      }
    }
  }
  return active;
}

/** The binary mask of a unit at outH × outW (for pictures; the tally never builds it). */
export function unitMask(map: UnitMap, threshold: number, outH: number, outW: number): Uint8Array {
  const mask = new Uint8Array(outH * outW);
  forEachActivePixel(map, threshold, outH, outW, (p) => { mask[p] = 1; });
  return mask;
}

/** Running sums over the probe set, for `units` units and concept ids 0..concepts−1 (0 = none). */
export class IouTally {
  readonly intersection: Float64Array;
  /** Unit mask pixels per category, over the images annotated with that category. */
  readonly unitArea: Float64Array;
  readonly conceptArea: Float64Array;
  /** Mask pixels per unit and segmentation pixels, over all images: each mask's share of the probe set. */
  readonly unitTotal: Float64Array;
  pixels = 0;

  constructor(readonly units: number, readonly concepts: number, private readonly categoryOf: Int32Array, readonly categories: number) {
    this.intersection = new Float64Array(units * concepts);
    this.unitArea = new Float64Array(units * categories);
    this.conceptArea = new Float64Array(concepts);
    this.unitTotal = new Float64Array(units);
  }

  /**
   * Adds one image. `block` is its channel-last activation map (h × w × rowLength); unit u reads
   * channel `channels[u]` and thresholds at `thresholds[u]`.
   */
  addImage(block: Float32Array, offset: number, h: number, w: number, rowLength: number,
    channels: readonly number[], thresholds: Float64Array, seg: Segmentation): void {
    const { width: sw, height: sh, planes, imageLabels, categories } = seg;
    const n = sw * sh;
    this.pixels += n;
    for (const plane of planes) for (let p = 0; p < n; p++) if (plane[p]) this.conceptArea[plane[p]!]!++;
    for (const label of imageLabels) this.conceptArea[label]! += n;
    const { intersection, concepts } = this;
    for (let u = 0; u < this.units; u++) {
      const base = u * concepts;
      const map: UnitMap = { values: block, offset: offset + channels[u]!, stride: rowLength, height: h, width: w };
      const active = forEachActivePixel(map, thresholds[u]!, sh, sw, (p) => {
        for (const plane of planes) {
          const label = plane[p]!;
          if (label) intersection[base + label]!++;
        }
      });
      if (active === 0) continue;
      this.unitTotal[u]! += active;
      for (const label of imageLabels) intersection[base + label]! += active;
      for (const c of categories) this.unitArea[u * this.categories + c]! += active;
    }
  }

  /** IoU(u, c) for every unit and concept, row-major units × concepts. */
  iou(): Float64Array {
    const out = new Float64Array(this.units * this.concepts);
    for (let u = 0; u < this.units; u++) {
      for (let c = 1; c < this.concepts; c++) {
        const inter = this.intersection[u * this.concepts + c]!;
        const union = this.unitArea[u * this.categories + this.categoryOf[c]!]! + this.conceptArea[c]! - inter;
        out[u * this.concepts + c] = union > 0 ? inter / union : 0;
      }
    }
    return out;
  }
}
