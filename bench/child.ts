import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { median } from 'simple-statistics';
import { Engine } from '../src/engine/engine';
import { toModelInput } from '../src/engine/image/preprocess';
import { heapSimdStatus } from '../src/engine/kernels/heapSimd';
import type { BackendName, ExplainOptions, MethodId } from '../src/protocol/types';
import type { RgbaImage } from '../src/engine/types';
import { loadOnnxRuntime } from '../src/engine/backends/onnxruntime/ortPasses';
import { measureGradientBound, type GradientBound } from './gradientBound';
import { checkReference, type CheckResult, type ReferenceSpec } from './reference';

/** One model on one backend, measured in a child process of its own. */
export interface ChildSpec {
  name: string;
  modelPath: string;
  /** Where the model comes from, for the table. */
  source: string;
  backend: 'onnxruntime' | 'wasm';
  quick: boolean;
  /** A real-size model: full repetitions and the performance targets (the demo models are quick rows). */
  targets: boolean;
  /** Also the "1 thread" SmoothGrad/IG rows on wasm (what the lanes gain). */
  oneThreadRows: boolean;
  reference?: ReferenceSpec;
  /** The PyTorch peer's model this one is compared with; identical = the very network PyTorch exported. */
  peer?: { model: string; identical: boolean };
}

export type Measure = 'forward' | 'gradient' | 'gradient50' | 'smoothgrad50' | 'ig50' | 'smoothgrad50_1' | 'ig50_1' | 'gradcam';

export interface ModelBench {
  name: string;
  source: string;
  modelPath: string;
  targets: boolean;
  peer?: { model: string; identical: boolean };
  /** The backend asked for, and what the model's passes actually run on (a model ONNX Runtime cannot run falls back). */
  requested: BackendName;
  backend: BackendName;
  backendNote?: string;
  /** TF.js wasm only: whether Loupe's SIMD module ran (heapSimdStatus). */
  simd?: string;
  /** Threads one gradient / SmoothGrad and IG run on. */
  threads: { single: number; batch: number };
  inputShape: number[];
  params: number;
  /** Size of the model file (model.json + shards, or the .onnx file). */
  fileBytes: number;
  /** describe() in a fresh engine: read, parse, convert, and the forward and gradient sessions ready. */
  loadMs: number;
  /** The first explain(gradient) right after loading (wall time, prediction included). */
  firstGradientMs: number;
  rssAfterLoadMB: number;
  /** Peak RSS of this process (the lanes included), before the "1 thread" rows' second engine. */
  peakRssMB: number;
  /** Gradients in a row per "sustained gradient" sample (wasm only; 0 = not measured). */
  sustainedRuns: number;
  camLayer?: string;
  /** Median ms per measure: forward = the forward pass; the others = the engine's own map ms. */
  ms: Partial<Record<Measure, number>>;
  /** Median wall time of the whole predict() / explain() call. */
  wallMs: Partial<Record<Measure, number>>;
  reps: Partial<Record<Measure, number>>;
  check?: CheckResult;
  /** ONNX Runtime, real-size models: bare session runs of the forward, the gradient, and the gradient without masks. */
  bound?: GradientBound;
  /** Measures that failed, with the engine's error. */
  errors: Partial<Record<Measure, string>>;
}

const MB = 1024 * 1024;

/** An ONNX file's size, or a TF.js model's: model.json plus the .bin shards beside it. */
function modelBytes(modelPath: string): number {
  if (!modelPath.endsWith('model.json')) return fs.statSync(modelPath).size;
  const dir = path.dirname(modelPath);
  return fs.readdirSync(dir).filter((f) => f === 'model.json' || f.endsWith('.bin')).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

const EXPLAIN: Record<Exclude<Measure, 'forward' | 'gradient50'>, ExplainOptions> = {
  gradient: { methods: ['gradient'] },
  gradcam: { methods: ['gradcam'] },
  smoothgrad50: { methods: ['smoothgrad'], params: { samples: 50 } },
  ig50: { methods: ['ig'], params: { steps: 50 } },
  smoothgrad50_1: { methods: ['smoothgrad'], params: { samples: 50 } },
  ig50_1: { methods: ['ig'], params: { steps: 50 } },
};

type Heavy = 'smoothgrad50' | 'ig50' | 'smoothgrad50_1' | 'ig50_1';

interface Plan {
  reps: Record<'forward' | 'gradient' | 'gradcam' | Heavy, number>;
  /** Gradients in a row sampled before every SmoothGrad/IG repetition (0: none). */
  sustainedRuns: number;
  /** One full SmoothGrad-50 before the heavy measures of each engine (else only the lanes are warmed). */
  heavyWarmUp: boolean;
}

/**
 * Repetitions. On wasm a SmoothGrad-50 of ResNet18 takes ~10 s and its sustained-gradient sample ~16 s, so
 * the heavy measures get one repetition there (the table says so); ONNX Runtime's are cheap enough for three.
 */
function plan(spec: ChildSpec, backend: BackendName): Plan {
  const wasm = backend !== 'onnxruntime';
  if (spec.quick || !spec.targets) {
    return {
      reps: { forward: 3, gradient: 2, gradcam: 2, smoothgrad50: 1, ig50: 1, smoothgrad50_1: 1, ig50_1: 1 },
      sustainedRuns: wasm && spec.targets ? 10 : 0,
      heavyWarmUp: !wasm,
    };
  }
  const heavy = wasm ? 1 : 3;
  return {
    reps: { forward: 10, gradient: 5, gradcam: 5, smoothgrad50: heavy, ig50: heavy, smoothgrad50_1: heavy, ig50_1: heavy },
    sustainedRuns: wasm ? 50 : 0,
    heavyWarmUp: true,
  };
}

/** Fast measures (small models) get more repetitions than asked, so that a median of ~1 ms means something. */
const MIN_MEASURE_MS = { full: 1000, quick: 300 };
const MAX_REPS = 200;

async function repeat(minReps: number, quick: boolean, once: () => Promise<number>): Promise<number[]> {
  const budget = MIN_MEASURE_MS[quick ? 'quick' : 'full'];
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || (performance.now() - start < budget && times.length < MAX_REPS)) {
    times.push(await once());
  }
  return times;
}

/** A deterministic, structured test image (smooth ramps plus a bright square), not blank. */
function testImage(width: number, height: number): RgbaImage {
  const data = new Float32Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inSquare = x > width / 4 && x < width / 2 && y > height / 3 && y < (2 * height) / 3;
      data[i] = inSquare ? 240 : (255 * x) / width;
      data[i + 1] = inSquare ? 220 : (255 * y) / height;
      data[i + 2] = 128 + 100 * Math.sin((x + y) / 9);
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}

export function send(message: unknown): Promise<void> {
  return new Promise((resolve) => {
    // Run by hand (`node dist/bench.js --child '<spec>'`): print instead of sending.
    if (process.send) process.send(message, undefined, undefined, () => resolve());
    else resolve(void process.stdout.write(`${JSON.stringify(message)}\n`));
  });
}

const progress = (text: string) => void send({ kind: 'progress', text });
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function measureModel(spec: ChildSpec): Promise<ModelBench> {
  const engine = await Engine.create({ backend: spec.backend });
  const loadStart = performance.now();
  const description = await engine.describe(spec.modelPath);
  const loadMs = performance.now() - loadStart;
  const rssAfterLoadMB = process.memoryUsage().rss / MB;
  const model = await engine.model(spec.modelPath);
  const backend = model.passes.backend;
  const [height, width, channels] = description.inputShape;
  const image = testImage(width!, height!);
  const p = plan(spec, backend);
  const ms: ModelBench['ms'] = {};
  const wallMs: ModelBench['wallMs'] = {};
  const reps: ModelBench['reps'] = {};
  const errors: ModelBench['errors'] = {};
  let camLayer: string | undefined;

  const explainOnce = async (options: ExplainOptions, on = engine) => {
    const method: MethodId = options.methods[0]!;
    const t0 = performance.now();
    const result = await on.explain(spec.modelPath, image, options);
    const wall = performance.now() - t0;
    const map = result.maps.find((m) => m.summary.method === method);
    if (!map) {
      const why = result.summary.skipped?.find((s) => s.method === method)?.reason ?? 'no reason given';
      throw new Error(`explain(${method}) returned no ${method} map: ${why}`);
    }
    if (method === 'gradcam') camLayer = map.summary.layer;
    return { ms: map.summary.ms, wall };
  };
  const firstGradientMs = (await explainOnce(EXPLAIN.gradient)).wall;
  progress(`${backend}: loaded in ${loadMs.toFixed(0)} ms, first gradient ${firstGradientMs.toFixed(0)} ms`);
  let check: CheckResult | undefined;
  if (spec.reference) {
    check = await checkReference(model, spec.reference);
    progress(`check against ${check.source}: logits rel. error ${check.logitsRelError.toExponential(2)}` +
      (check.gradientRelError !== undefined ? `, gradient ${check.gradientRelError.toExponential(2)}` : ''));
  }

  // The forward pass itself, on the test image as the engine prepares it; predict() (the whole call) alongside.
  const x = tf.tensor4d(toModelInput(image, description.preprocessing, channels!), [1, height!, width!, channels!]);
  const forwardTimes: number[] = [];
  const predictTimes: number[] = [];
  const forwardOnce = async () => {
    const t0 = performance.now();
    const [out] = await model.passes.forward(x, [model.graph.logitsName]);
    out!.dataSync();
    out!.dispose();
    forwardTimes.push(performance.now() - t0);
  };
  const predictOnce = async () => {
    const t0 = performance.now();
    await engine.predict(spec.modelPath, image);
    predictTimes.push(performance.now() - t0);
    return 0;
  };
  const record = (measure: Measure, mapTimes: number[], wallTimes: number[]) => {
    ms[measure] = median(mapTimes);
    wallMs[measure] = median(wallTimes);
    reps[measure] = mapTimes.length;
  };
  const attempt = async (measure: Measure, run: () => Promise<void>) => {
    try {
      await run();
      progress(`${measure} ${ms[measure]!.toFixed(1)} ms`);
    } catch (error) {
      // One failing method should not hide the figures of the others.
      errors[measure] = errorText(error);
      progress(`${measure} failed: ${error instanceof Error ? error.stack : String(error)}`);
    }
  };

  try {
    await attempt('forward', async () => {
      await forwardOnce(); // warm-up
      await predictOnce();
      forwardTimes.length = predictTimes.length = 0;
      await repeat(p.reps.forward, spec.quick, async () => {
        await forwardOnce();
        return predictOnce();
      });
      record('forward', forwardTimes, predictTimes);
    });
    // gradient ÷ forward is a target: both are sampled alternately, under the same machine conditions.
    await attempt('gradient', async () => {
      const mapTimes: number[] = [];
      const wallTimes: number[] = [];
      await repeat(p.reps.gradient, spec.quick, async () => {
        await forwardOnce();
        const r = await explainOnce(EXPLAIN.gradient);
        wallTimes.push(r.wall);
        return mapTimes[mapTimes.push(r.ms) - 1]!;
      });
      record('gradient', mapTimes, wallTimes);
      record('forward', forwardTimes, predictTimes);
    });
    await attempt('gradcam', async () => {
      await explainOnce(EXPLAIN.gradcam);
      const wallTimes: number[] = [];
      const mapTimes = await repeat(p.reps.gradcam, spec.quick, async () => {
        const r = await explainOnce(EXPLAIN.gradcam);
        wallTimes.push(r.wall);
        return r.ms;
      });
      record('gradcam', mapTimes, wallTimes);
    });

    // SmoothGrad-50 and IG-50 ÷ one gradient are wasm targets: this machine's speed drifts by tens of percent
    // over seconds, so a sustained gradient (N in a row) is sampled right before every SmoothGrad / IG run.
    const sustained = { ms: [] as number[], wall: [] as number[] };
    const sustainedGradient = async () => {
      let total = { ms: 0, wall: 0 };
      for (let i = 0; i < p.sustainedRuns; i++) {
        const r = await explainOnce(EXPLAIN.gradient);
        total = { ms: total.ms + r.ms / p.sustainedRuns, wall: total.wall + r.wall / p.sustainedRuns };
      }
      sustained.ms.push(total.ms);
      sustained.wall.push(total.wall);
    };
    const heavy = async (measures: Heavy[], on: Engine) => {
      await on.describe(spec.modelPath); // a second engine loads its own copy of the model first
      if (p.heavyWarmUp) await explainOnce(EXPLAIN[measures[0]!], on).catch(() => undefined);
      else await on.warmLanes(spec.modelPath);
      for (const measure of measures) {
        await attempt(measure, async () => {
          const wallTimes: number[] = [];
          const mapTimes = await repeat(p.reps[measure], spec.quick, async () => {
            if (p.sustainedRuns > 0) await sustainedGradient();
            const r = await explainOnce(EXPLAIN[measure], on);
            wallTimes.push(r.wall);
            return r.ms;
          });
          record(measure, mapTimes, wallTimes);
          if (sustained.ms.length > 0) record('gradient50', sustained.ms, sustained.wall);
        });
      }
    };
    await heavy(['smoothgrad50', 'ig50'], engine);
    const peakRssMB = process.resourceUsage().maxRSS / 1024; // kilobytes
    // After the peak RSS: its three extra sessions are not what a user's worker holds.
    let bound: GradientBound | undefined;
    const ort = loadOnnxRuntime();
    if (backend === 'onnxruntime' && spec.targets && !spec.quick && ort) {
      try {
        bound = await measureGradientBound(ort, model.graph, x.dataSync() as Float32Array, os.availableParallelism());
        progress(`sessions alone: forward ${bound.forwardMs.toFixed(1)} ms, gradient ${bound.gradientMs.toFixed(1)} ms, ` +
          `without its ${bound.masks} masks ${bound.maskFreeMs.toFixed(1)} ms, one multiply per mask ${bound.oneMultiplyMs.toFixed(1)} ms`);
      } catch (error) {
        progress(`gradient bound failed: ${error instanceof Error ? error.stack : String(error)}`);
      }
    }
    if (spec.oneThreadRows && engine.lanes.threads > 0) {
      const oneThread = await Engine.create({ backend: spec.backend, lanes: 1 });
      await heavy(['smoothgrad50_1', 'ig50_1'], oneThread);
    }

    return {
      name: spec.name,
      source: spec.source,
      modelPath: spec.modelPath,
      targets: spec.targets,
      ...(spec.peer ? { peer: spec.peer } : {}),
      requested: spec.backend,
      backend,
      ...(model.passes.note ? { backendNote: model.passes.note } : {}),
      ...(backend === 'onnxruntime' ? {} : { simd: heapSimdStatus() }),
      threads: backend === 'onnxruntime'
        ? { single: os.availableParallelism(), batch: os.availableParallelism() }
        : { single: 1, batch: engine.lanes.threads + 1 },
      inputShape: [...description.inputShape],
      params: description.totalParams,
      fileBytes: modelBytes(spec.modelPath),
      loadMs,
      firstGradientMs,
      rssAfterLoadMB,
      peakRssMB,
      sustainedRuns: p.sustainedRuns,
      ...(camLayer ? { camLayer } : {}),
      ms,
      wallMs,
      reps,
      ...(check ? { check } : {}),
      ...(bound ? { bound } : {}),
      errors,
    };
  } finally {
    x.dispose();
  }
}

/** Entry point of a forked child: measures one model on one backend and sends the result to the parent. */
export async function runChild(spec: ChildSpec): Promise<void> {
  try {
    await send({ kind: 'result', result: await measureModel(spec) });
  } catch (error) {
    await send({ kind: 'error', error: error instanceof Error ? error.stack ?? error.message : String(error) });
  }
  // The IPC channel would keep the child alive.
  if (process.connected) process.disconnect();
}
