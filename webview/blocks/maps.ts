/** What the Building Blocks page draws, as pure functions of the result (no DOM: tested in Node). */
import type { BlocksResult } from '../../src/protocol/blocks';

/** Distinct colours for neuron groups (Tableau 10). */
export const GROUP_COLOURS: ReadonlyArray<readonly [number, number, number]> = [
  [78, 121, 167], [242, 142, 43], [225, 87, 89], [118, 183, 178], [89, 161, 79],
  [237, 201, 72], [176, 122, 161], [255, 157, 167], [156, 117, 95], [186, 176, 172],
];

export function groupColour(k: number): readonly [number, number, number] {
  return GROUP_COLOURS[k % GROUP_COLOURS.length]!;
}

/** The layer position (row, column) under a point of the picture (pixel coordinates of the picture). */
export function positionAt(px: number, py: number, picture: { width: number; height: number }, h: number, w: number): { y: number; x: number } {
  return {
    y: Math.max(0, Math.min(h - 1, Math.floor((py * h) / picture.height))),
    x: Math.max(0, Math.min(w - 1, Math.floor((px * w) / picture.width))),
  };
}

/** A map over h × w positions, upsampled (nearest) to the picture's pixels. */
export function toPicture(map: ArrayLike<number>, h: number, w: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let py = 0; py < height; py++) {
    const y = Math.min(h - 1, Math.floor((py * h) / height));
    for (let px = 0; px < width; px++) out[py * width + px] = map[y * w + Math.min(w - 1, Math.floor((px * w) / width))]!;
  }
  return out;
}

/**
 * The neuron groups as one picture: each pixel takes the colour of the group with the largest spatial factor
 * there, its opacity following that factor relative to the group's maximum (Lucid's NeuronGroups overview).
 */
export function groupOverlay(result: Pick<BlocksResult, 'groups' | 'layerShape'>, rgba: Uint8Array, width: number, height: number,
  only?: number): Uint8ClampedArray<ArrayBuffer> {
  const [h, w] = result.layerShape;
  const spatial = result.groups.spatial;
  const peaks = spatial.map((m) => Math.max(...m) || 1);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let py = 0; py < height; py++) {
    const y = Math.min(h - 1, Math.floor((py * h) / height));
    for (let px = 0; px < width; px++) {
      const p = y * w + Math.min(w - 1, Math.floor((px * w) / width));
      let best = -1;
      let strength = 0;
      spatial.forEach((m, k) => {
        if (only !== undefined && k !== only) return;
        const s = m[p]! / peaks[k]!;
        if (s > strength) {
          strength = s;
          best = k;
        }
      });
      const o = (py * width + px) * 4;
      const gray = 0.299 * rgba[o]! + 0.587 * rgba[o + 1]! + 0.114 * rgba[o + 2]!;
      const a = best < 0 ? 0 : 0.75 * Math.min(1, strength);
      const c = best < 0 ? [0, 0, 0] : groupColour(best);
      for (let i = 0; i < 3; i++) out[o + i] = (1 - a) * gray + a * c[i]!;
      out[o + 3] = 255;
    }
  }
  return out;
}

/** Channels by attribution: the `n` largest (most positive first) and the `n` smallest (most negative first). */
export function extremeChannels(values: readonly number[], n: number): { top: number[]; bottom: number[] } {
  const order = [...values.keys()].sort((a, b) => values[b]! - values[a]! || a - b);
  const top = order.slice(0, n).filter((c) => values[c]! > 0);
  const bottom = order.slice(-n).reverse().filter((c) => values[c]! < 0);
  return { top, bottom };
}

/** A group's strongest channels (by channel factor), strongest first. */
export function groupChannels(factor: readonly number[], n: number): number[] {
  return [...factor.keys()].sort((a, b) => factor[b]! - factor[a]! || a - b).slice(0, n).filter((c) => factor[c]! > 0);
}
