// A hand-written network dissection result (input data for the host and webview tests, not a mock):
// 8 units of a 4×4×8 layer over a probe with color / texture / shape concepts. The counts in
// `categories` and `interpretable` are written by hand from the units below (IoU > 0.04).
import type { DissectedUnit, DissectionSummary } from '../src/protocol/types';

function unit(n: number, label: string, category: string, iou: number, extra: Partial<DissectedUnit> = {}): DissectedUnit {
  return {
    unit: n, label, category, iou, interpretable: iou > 0.04, threshold: 1.5 + n / 10,
    runnersUp: [{ label: 'grey', category: 'color', iou: iou / 8 }],
    top: [{ image: 10 + n, activation: 3 + n }, { image: 20 + n, activation: 2 + n }],
    strip: `unit-${n}.png`,
    ...extra,
  };
}

export function dissectionFixture(dir = '/cache/dissections/abc/relu3'): DissectionSummary {
  const units = [
    unit(0, 'red', 'color', 0.21),
    unit(1, 'stripes', 'texture', 0.12),
    unit(2, 'red', 'color', 0.09),
    unit(3, 'circle', 'shape', 0.05),
    unit(4, 'blue', 'color', 0.03), // below the threshold
    unit(5, 'stripes', 'texture', 0.3),
    unit(6, 'dots', 'texture', 0.04), // exactly the threshold: not above it
    unit(7, 'green', 'color', 0.005, { runnersUp: [] }),
  ];
  return {
    model: '/w/shapes/model/model.json',
    layer: 'relu3',
    layerShape: [4, 4, 8],
    probe: { kind: 'builtin', name: 'builtin', images: 300, concepts: 25, categories: ['color', 'texture', 'shape'] },
    params: { quantile: 0.005, iouThreshold: 0.04, topImages: 2 },
    units,
    // interpretable: units 0, 1, 2, 3, 5 → 5; color {red ×2} → 2 units, 1 concept; texture {stripes ×2} → 2, 1; shape {circle} → 1, 1.
    interpretable: 5,
    categories: [
      { name: 'color', units: 2, concepts: ['red'] },
      { name: 'texture', units: 2, concepts: ['stripes'] },
      { name: 'shape', units: 1, concepts: ['circle'] },
    ],
    backend: 'wasm',
    ms: 4321,
    dir,
    cached: false,
  };
}
