/** The semantic dictionary (SemanticDictionary.ipynb): per position, the channels that fire most. */
import type { DictionaryEntry } from '../../protocol/blocks';

export interface Dictionary {
  entries: DictionaryEntry[];
  /** Per position the largest activation over channels. */
  maxActivation: number[];
  /** The position with the largest activation (where Lucid's notebook starts). */
  start: { y: number; x: number };
}

/** acts: H × W × C row-major; `top` channels per position, by activation (np.argsort(-acts)[:top]). */
export function semanticDictionary(acts: Float32Array, h: number, w: number, c: number, top: number): Dictionary {
  const entries: DictionaryEntry[] = [];
  const maxActivation: number[] = [];
  let best = -Infinity;
  let start = { y: 0, x: 0 };
  const order = new Int32Array(c);
  for (let p = 0; p < h * w; p++) {
    const row = acts.subarray(p * c, (p + 1) * c);
    for (let i = 0; i < c; i++) order[i] = i;
    // Stable on ties: the lower channel first, as numpy's argsort of the negated values.
    const sorted = Array.from(order).sort((a, b) => row[b]! - row[a]! || a - b).slice(0, Math.min(top, c));
    const y = Math.floor(p / w);
    const x = p % w;
    entries.push({ y, x, channels: sorted, values: sorted.map((i) => row[i]!) });
    const m = row[sorted[0]!]!;
    maxActivation.push(m);
    if (m > best) {
      best = m;
      start = { y, x };
    }
  }
  return { entries, maxActivation, start };
}
