import * as tf from '@tensorflow/tfjs';

/**
 * Named weights of a model plus tensors derived from them (flipped kernels for fast input gradients).
 * A store made with `withOverrides` shares the untouched tensors and owns only the new ones, so the
 * randomisation check never copies a whole model.
 */
export class WeightStore {
  private readonly derivedCache = new Map<string, tf.Tensor>();

  constructor(
    private readonly tensors: Map<string, tf.Tensor>,
    private readonly owned: Set<string> = new Set(tensors.keys()),
  ) {}

  get(name: string): tf.Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`internal: weight '${name}' missing from the model's weight store`);
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  /** A tensor computed once from weights and kept until the store is disposed. */
  derived(key: string, make: () => tf.Tensor): tf.Tensor {
    let t = this.derivedCache.get(key);
    if (!t) {
      t = tf.keep(tf.tidy(make));
      this.derivedCache.set(key, t);
    }
    return t;
  }

  withOverrides(overrides: Map<string, tf.Tensor>): WeightStore {
    const merged = new Map(this.tensors);
    for (const [k, v] of overrides) merged.set(k, v);
    return new WeightStore(merged, new Set(overrides.keys()));
  }

  dispose(): void {
    for (const t of this.derivedCache.values()) t.dispose();
    this.derivedCache.clear();
    for (const name of this.owned) this.tensors.get(name)?.dispose();
  }
}
