/**
 * Which images every CAV uses, drawn once from the seed before any model runs, so the model sees each
 * image once whatever the number of runs and concepts. Per run i:
 *   random_i and its held-out counterpart_i: disjoint sets from the random pool (or sub-folders as given);
 *   concept c's set: drawn from c's images other than random_i's (a concept that is itself random
 *     images is then exchangeable with counterpart_i, which is what the significance test assumes);
 *   each CAV's two sets truncated to the same size, 1/3 of each held out (stratified) for its accuracy.
 */
import { LoupeError } from '../../protocol/errors';
import { hashString, itemSeed, mulberry32 } from '../random';
import type { ImagePool, ImageRef, RandomSource } from './sets';

/** One CAV's images, as indices into TcavPlan.images: positives (+1: the concept, or random_i) and negatives. */
export interface CavSplit {
  trainPos: number[];
  trainNeg: number[];
  testPos: number[];
  testNeg: number[];
}

export interface TcavPlan {
  /** Every image some CAV uses, each once. */
  images: ImageRef[];
  /** Per run: random_i (+) vs counterpart_i (−). */
  random: CavSplit[];
  /** Per concept, per run: concept (+) vs random_i (−). */
  concepts: CavSplit[][];
}

export const HELD_OUT = 1 / 3;

/** `k` distinct items of `items` in a seeded random order (partial Fisher–Yates). */
function draw<T>(items: readonly T[], k: number, rand: () => number): T[] {
  const a = [...items];
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rand() * (a.length - i));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}

export function planRuns(randomSource: RandomSource, concepts: ImagePool[], runs: number, imagesPerSet: number, seed: number,
  notes: string[]): TcavPlan {
  const index = new Map<string, number>();
  const images: ImageRef[] = [];
  const id = (ref: ImageRef): number => {
    let i = index.get(ref.key);
    if (i === undefined) {
      i = images.length;
      index.set(ref.key, i);
      images.push(ref);
    }
    return i;
  };
  const split = (pos: ImageRef[], neg: ImageRef[], rand: () => number): CavSplit => {
    const m = Math.min(pos.length, neg.length);
    const test = Math.min(m - 1, Math.max(1, Math.round(m * HELD_OUT)));
    const p = draw(pos.slice(0, m), m, rand).map(id);
    const n = draw(neg.slice(0, m), m, rand).map(id);
    return { trainPos: p.slice(test), trainNeg: n.slice(test), testPos: p.slice(0, test), testNeg: n.slice(0, test) };
  };

  const randomSets: { set: ImageRef[]; counterpart: ImageRef[] }[] = [];
  const rands = Array.from({ length: runs }, (_, i) => mulberry32(itemSeed(seed, i)));
  if (randomSource.pool) {
    const pool = randomSource.pool.images;
    const k = Math.min(imagesPerSet, Math.floor(pool.length / 2));
    if (k < 2) {
      throw new LoupeError('BAD_REQUEST', `the random images number ${pool.length}; each run needs two disjoint random sets of at least 2`,
        randomSource.source === 'builtin' ? undefined : randomSource.source, 'add random images');
    }
    if (k < imagesPerSet) {
      notes.push(`random: ${pool.length} images; each run's random set and its held-out counterpart hold ${k} images each (two disjoint sets per run)`);
    }
    for (const rand of rands) {
      const both = draw(pool, 2 * k, rand);
      randomSets.push({ set: both.slice(0, k), counterpart: both.slice(k) });
    }
  } else {
    const sets = randomSource.sets!;
    if (sets.length < runs + 1) {
      throw new LoupeError('BAD_REQUEST', `the random folder has ${sets.length} random set${sets.length === 1 ? '' : 's'} (sub-folders); ${runs} runs need ${runs + 1}: one per run and at least one held-out counterpart`,
        randomSource.source, 'add sub-folders of random images, lower the number of runs, or use a flat folder of images to draw sets from');
    }
    const spare = sets.length - runs;
    if (spare < runs) notes.push(`random: the ${runs} random-vs-random runs share ${spare} held-out counterpart set${spare === 1 ? '' : 's'}`);
    rands.forEach((rand, i) => randomSets.push({
      set: draw(sets[i]!.images, imagesPerSet, rand),
      counterpart: draw(sets[runs + (i % spare)]!.images, imagesPerSet, rand),
    }));
  }

  const random = randomSets.map((r, i) => split(r.set, r.counterpart, rands[i]!));
  const conceptSplits = concepts.map((pool) => randomSets.map((r, i) => {
    const taken = new Set(r.set.map((ref) => ref.key));
    const available = pool.images.filter((ref) => !taken.has(ref.key));
    if (available.length < 2) {
      throw new LoupeError('BAD_REQUEST', `concept '${pool.name}' has ${available.length} image${available.length === 1 ? '' : 's'} outside run ${i + 1}'s random set; a set needs at least 2`,
        pool.source.startsWith('builtin:') ? undefined : pool.source, 'give the concept more images, or different random images');
    }
    // Each concept its own stream: a concept's sets do not depend on which other concepts are tested.
    const rand = mulberry32(itemSeed(itemSeed(seed, i), hashString(pool.source)));
    return split(draw(available, imagesPerSet, rand), r.set, rand);
  }));
  return { images, random, concepts: conceptSplits };
}
