/**
 * Feature visualisation's cost: Lucid's recipe (512 steps, 128 px upsampled to the model's 224, channel
 * objective) at a middle layer of the MobileNetV2-sized model, the time per step split into parameterisation +
 * transforms (forward and vector-Jacobian product), the model's forward and its backward; and the neuron groups'
 * NMF (K = 6) on that layer's 14×14×384 activations. Runs in its own child process, like the dissection bench.
 * Targets (issue 9): a step ≤ PyTorch's (bench/torch_peer.py --featurevis: the same recipe as Lucent runs it on
 * torchvision's MobileNetV2, timed by bench/main.ts right after this run), parameterisation under 25% of a step, NMF < 2 s.
 * The load average is recorded beside the figures: the machine may be shared.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { nmf } from '../src/engine/blocks/nmf';
import { Engine } from '../src/engine/engine';
import { ModelPasses } from '../src/engine/featureVis/passes';
import { mulberry32 } from '../src/engine/random';
import type { TorchFeatureVis } from './torchPeer';

export const FEATURE_VIS_LAYER = 'block_7_expand_relu';

export interface FeatureVisSpec {
  kind: 'featurevis';
  name: string;
  modelPath: string;
  steps: number;
}

export interface FeatureVisBench {
  name: string;
  layer: string;
  layerShape: number[];
  steps: number;
  size: number;
  inputSize: number;
  totalMs: number;
  perStep: { total: number; parameterisation: number; forward: number; backward: number };
  nmf: { ms: number; iterations: number; relativeError: number; shape: number[] };
  backend: string;
  peakRssMB: number;
  /** 1-minute load average before and after the run. */
  load: { start: number; end: number };
  /** PyTorch's time for the same recipe (set by bench/main.ts after the child returns). */
  torch?: TorchFeatureVis | { error: string };
}

export async function measureFeatureVis(spec: FeatureVisSpec, progress: (text: string) => void): Promise<FeatureVisBench> {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-featurevis-'));
  const loadStart = os.loadavg()[0]!;
  try {
    // lanes: 1 — feature visualisation runs on the engine's thread only.
    const engine = await Engine.create({ backend: 'auto', cacheDir, lanes: 1 });
    const description = await engine.describe(spec.modelPath);
    const layerShape = description.layers.find((l) => l.name === FEATURE_VIS_LAYER)!.outputShape;
    const model = await engine.model(spec.modelPath);
    const passes = new ModelPasses(model);
    const [h, w, c] = model.graph.inputShape;
    const rand = mulberry32(3);
    const input = Float32Array.from({ length: h * w * c }, () => rand() * 2 - 1);

    // The model's forward to the layer, alone (what each step's forward computes), warm.
    await passes.activations([FEATURE_VIS_LAYER], input, 1);
    const forwards = 20;
    let t0 = performance.now();
    for (let i = 0; i < forwards; i++) await passes.activations([FEATURE_VIS_LAYER], input, 1);
    const forwardMs = (performance.now() - t0) / forwards;

    let last = 0;
    t0 = performance.now();
    const summary = await engine.visualize(spec.modelPath, {
      objective: [{ kind: 'channel', layer: FEATURE_VIS_LAYER, unit: 0 }], params: { steps: spec.steps },
    }, {
      onProgress: (fraction, message) => {
        const now = performance.now();
        if (now - last > 10_000) {
          last = now;
          progress(`${Math.round(fraction * 100)}% ${message}`);
        }
      },
    });
    const totalMs = performance.now() - t0;

    // Neuron groups: NMF, K = 6, of the layer's activations on an image (post-ReLU6: non-negative).
    const [acts] = await passes.activations([FEATURE_VIS_LAYER], input, 1);
    const [lh, lw, lc] = layerShape as [number, number, number];
    t0 = performance.now();
    const groups = nmf(acts!, lh * lw, lc, 6);
    const nmfMs = performance.now() - t0;

    return {
      name: spec.name,
      layer: FEATURE_VIS_LAYER,
      layerShape,
      steps: spec.steps,
      size: summary.imageShape[0],
      inputSize: summary.inputShape[0],
      totalMs,
      perStep: {
        total: summary.msPerStep.total,
        parameterisation: summary.msPerStep.parameterisation,
        forward: forwardMs,
        backward: Math.max(0, summary.msPerStep.model - forwardMs),
      },
      nmf: { ms: nmfMs, iterations: groups.iterations, relativeError: groups.relativeError, shape: [lh * lw, lc] },
      backend: model.passes.backend,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      load: { start: loadStart, end: os.loadavg()[0]! },
    };
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

export function renderFeatureVis(run: FeatureVisBench | undefined, quick: boolean): string[] {
  if (!run) return [];
  const s = run.perStep;
  const share = s.parameterisation / s.total;
  const torch = run.torch && !('error' in run.torch) ? run.torch : undefined;
  const t = torch?.msPerStep;
  const pass = (ok: boolean) => (ok ? 'pass' : '**FAIL**');
  const cell = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(1));
  const ratio = t ? s.total / t.total : undefined;
  return [
    '',
    `Feature visualisation: channel 0 of ${run.layer} [${run.layerShape.join('×')}] of the MobileNetV2-sized model, ${run.steps} steps at ${run.size} px`
      + ` resized to ${run.inputSize} (Lucid's recipe), Loupe on ${run.backend}${quick ? ' (quick: fewer steps)' : ''};`
      + ` load average ${run.load.start.toFixed(1)} → ${run.load.end.toFixed(1)} on ${os.availableParallelism()} cores`,
    '',
    `| ms per step | Loupe | share | PyTorch (Lucent's recipe${torch ? `, ${torch.steps} steps timed` : ''}) |`,
    '|---|---:|---:|---:|',
    `| parameterisation + transforms (forward and VJP) | ${s.parameterisation.toFixed(1)} | ${(100 * share).toFixed(0)}% | ${cell(t?.parameterisation)} (forward only) |`,
    `| model forward (Loupe: to the layer, measured alone; PyTorch: the whole model, as Lucent) | ${s.forward.toFixed(1)} | ${(100 * s.forward / s.total).toFixed(0)}% | ${cell(t?.forward)} |`,
    `| backward (Loupe: step's model time − forward; PyTorch: model + parameterisation) | ${s.backward.toFixed(1)} | ${(100 * s.backward / s.total).toFixed(0)}% | ${cell(t?.backward)} |`,
    `| Adam | — | — | ${cell(t?.adam)} |`,
    `| **total** | **${s.total.toFixed(1)}** | ${(run.totalMs / 1000).toFixed(1)} s | **${cell(t?.total)}** |`,
    '',
    (ratio === undefined
      ? `PyTorch peer not run: ${run.torch && 'error' in run.torch ? run.torch.error : 'not measured'}.`
      : `Loupe / PyTorch (${torch!.threads} threads, torch ${torch!.torch}, same run): ${ratio.toFixed(2)}× (target ≤ 1.0×: ${pass(ratio <= 1)}).`)
      + ` Parameterisation share ${(100 * share).toFixed(0)}% (target < 25%: ${pass(share < 0.25)}).`,
    `Neuron groups: NMF K = 6 on ${run.nmf.shape.join('×')} in ${run.nmf.ms.toFixed(0)} ms (${run.nmf.iterations} iterations, relative error ${run.nmf.relativeError.toFixed(3)};`
      + ` target < 2 s: ${pass(run.nmf.ms < 2000)}). Peak RSS ${run.peakRssMB.toFixed(0)} MB.`,
  ];
}
