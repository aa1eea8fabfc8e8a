import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';

/** Relative accuracy of each unit's sketch: the threshold is within 0.5% of the exact quantile's value. */
export const QUANTILE_ACCURACY = 0.005;
/** Bins per sketch; beyond this the smallest values are merged, which never touches an upper quantile. */
const BIN_LIMIT = 2048;

/**
 * One streaming quantile sketch per unit (DDSketch: relative-error guarantee, fixed memory), fed with
 * channel-last activations. Memory does not grow with the number of probe images.
 */
export class UnitQuantiles {
  private readonly sketches: LogCollapsingLowestDenseDDSketch[];

  constructor(readonly units: number, accuracy = QUANTILE_ACCURACY) {
    this.sketches = Array.from({ length: units }, () => new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: accuracy, binLimit: BIN_LIMIT }));
  }

  /** `values` holds positions × units, channel-last; `channels` maps unit u to its channel in the row. */
  add(values: Float32Array, rowLength: number, channels: readonly number[]): void {
    for (let u = 0; u < this.units; u++) {
      const sketch = this.sketches[u]!;
      for (let i = channels[u]!; i < values.length; i += rowLength) sketch.accept(values[i]!);
    }
  }

  count(unit: number): number {
    return this.sketches[unit]!.count;
  }

  /** The value below which a fraction `q` of each unit's activations lie. */
  quantiles(q: number): Float64Array {
    return Float64Array.from(this.sketches, (s) => (s.count === 0 ? Number.NaN : s.getValueAtQuantile(q)));
  }
}
