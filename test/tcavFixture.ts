/** A hand-written TCAV result (numbers chosen here, not computed by Loupe) for the host and webview tests. */
import type { TcavConceptResult, TcavResult, TcavRun } from '../src/protocol/tcav';

const runs = (scores: number[], accuracy: number): TcavRun[] => scores.map((score) => ({ cavAccuracy: accuracy, score, magnitude: score }));

function concept(name: string, scores: number[], extra: Partial<TcavConceptResult>): TcavConceptResult {
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  return {
    concept: name, source: `builtin:${name}`, images: 50, runs: runs(scores, extra.cavAccuracy ?? 0.9), mean, std: 0.05, magnitude: mean,
    cavAccuracy: 0.9, pValue: 0.5, significant: false, lowAccuracy: false, ...extra,
  };
}

export function tcavFixture(dir = '/cache/tcav/abc/key'): TcavResult {
  return {
    model: '/w/shapes/model/model.json',
    classIndex: 0, classLabel: 'circle',
    classImages: { path: '/w/tcav/circle', images: 12 },
    random: { source: 'builtin', images: 200, sets: 8, asGiven: false },
    layers: [
      {
        layer: 'relu2', shape: [32, 32, 32], dims: 32768,
        random: { mean: 0.5, std: 0.2, magnitude: 0.5, cavAccuracy: 0.52, runs: runs([0.3, 0.5, 0.7, 0.5], 0.52) },
        concepts: [
          concept('circle', [0.9, 1, 0.95, 0.95], { pValue: 0.0004, significant: true, cavAccuracy: 0.97 }),
          concept('red', [0.4, 0.6, 0.5, 0.5], { pValue: 0.61 }),
          concept('random', [0.6, 0.4, 0.5, 0.3], { pValue: 0.8, cavAccuracy: 0.48, lowAccuracy: true }),
        ],
      },
      {
        layer: 'relu4', shape: [16, 16, 64], dims: 16384,
        random: { mean: 0.45, std: 0.25, magnitude: 0.45, cavAccuracy: 0.5, runs: runs([0.2, 0.5, 0.6, 0.5], 0.5) },
        concepts: [
          concept('circle', [0.7, 0.8, 0.75, 0.75], { pValue: 0.02 }),
          concept('red', [0.1, 0.2, 0.15, 0.15], { pValue: 0.001, significant: true }),
          concept('random', [0.5, 0.5, 0.4, 0.6], { pValue: null, cavAccuracy: 0.51, lowAccuracy: true }),
        ],
      },
    ],
    params: { runs: 4, imagesPerSet: 50, cav: 'logistic', alpha: 0.05, tests: 6, correctedAlpha: 0.05 / 6, minCavAccuracy: 0.6, seed: 0, target: 'logit' },
    notes: ['a note'],
    backend: 'wasm', ms: 1234, created: 1_700_000_000_000,
    timings: { activations: 1, gradients: 1, cavs: 1, statistics: 1 },
    key: '0123456789abcdef01234567', dir, cached: false,
  };
}
