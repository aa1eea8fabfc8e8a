import { performance } from 'node:perf_hooks';
import { median } from 'simple-statistics';
import { Engine } from '../src/engine/engine';
import type { ExplainOptions, MethodId } from '../src/protocol/types';
import type { RgbaImage } from '../src/engine/types';

export interface ChildSpec {
  name: string;
  modelPath: string;
  quick: boolean;
  /** Whether the performance targets apply to this model (the MobileNetV2-sized one). */
  targets: boolean;
}

export type Measure = 'forward' | 'gradient' | 'gradient50' | 'smoothgrad50' | 'ig50' | 'smoothgrad50_1' | 'ig50_1' | 'gradcam';

/** gradient50: 50 gradients in a row, per gradient — one gradient under the sustained load SmoothGrad-50 and IG-50 run under. */
const SUSTAINED_RUNS = 50;

export interface ModelBench {
  name: string;
  modelPath: string;
  targets: boolean;
  backend: string;
  inputShape: number[];
  params: number;
  /** First describe(): reading and building the model. */
  loadMs: number;
  /** Threads SmoothGrad-50 and IG-50 ran on (the engine's and its lanes); the _1 measures ran on one. */
  threads: number;
  /** Median ms per measure: forward = wall time of predict(); the others = the engine's own map ms. */
  ms: Record<Measure, number>;
  /** Median wall time of the whole explain() call (includes the prediction it makes first). */
  wallMs: Record<Measure, number>;
  reps: Record<Measure, number>;
  peakRssMB: number;
  /** Measures that failed, with the engine's error (their ms are NaN). */
  errors: Partial<Record<Measure, string>>;
}

const EXPLAIN: Record<Exclude<Measure, 'forward'>, ExplainOptions> = {
  gradient: { methods: ['gradient'] },
  gradient50: { methods: ['gradient'] },
  smoothgrad50: { methods: ['smoothgrad'], params: { samples: 50 } },
  ig50: { methods: ['ig'], params: { steps: 50 } },
  smoothgrad50_1: { methods: ['smoothgrad'], params: { samples: 50 } },
  ig50_1: { methods: ['ig'], params: { steps: 50 } },
  gradcam: { methods: ['gradcam'] },
};
/** The same sums on the engine's thread alone: what the lanes gain. */
const ONE_THREAD: ReadonlySet<Measure> = new Set(['smoothgrad50_1', 'ig50_1']);
/** The measures whose targets compare with 50 gradients in a row, sampled alternately with them. */
const SUSTAINED: ReadonlySet<Measure> = new Set(['smoothgrad50', 'ig50', 'smoothgrad50_1', 'ig50_1']);

function repetitions(quick: boolean): Record<Measure, number> {
  return quick
    ? { forward: 3, gradient: 2, gradient50: 1, smoothgrad50: 1, ig50: 1, smoothgrad50_1: 1, ig50_1: 1, gradcam: 2 }
    : { forward: 10, gradient: 5, gradient50: 2, smoothgrad50: 3, ig50: 3, smoothgrad50_1: 3, ig50_1: 3, gradcam: 5 };
}

/** Fast measures (small models) get more repetitions than `minReps`, so that a median of ~1 ms means something. */
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

function send(message: unknown): Promise<void> {
  return new Promise((resolve) => {
    // Run by hand (`node dist/bench.js --child '<spec>'`): print instead of sending.
    if (process.send) {
      process.send(message, undefined, undefined, () => resolve());
    } else {
      process.stdout.write(`${JSON.stringify(message)}\n`);
      resolve();
    }
  });
}

async function measureModel(spec: ChildSpec): Promise<ModelBench> {
  const engine = await Engine.create({ backend: 'auto' });
  const oneThread = await Engine.create({ backend: 'auto', lanes: 1 });
  const loadStart = performance.now();
  const description = await engine.describe(spec.modelPath);
  const loadMs = performance.now() - loadStart;
  const [height, width] = description.inputShape;
  const image = testImage(width, height);
  const reps = repetitions(spec.quick);
  const ms = {} as Record<Measure, number>;
  const wallMs = {} as Record<Measure, number>;
  const errors: Partial<Record<Measure, string>> = {};

  await engine.predict(spec.modelPath, image); // warm-up
  const forwardTimes = await repeat(reps.forward, spec.quick, async () => {
    const t0 = performance.now();
    await engine.predict(spec.modelPath, image);
    return performance.now() - t0;
  });
  ms.forward = median(forwardTimes);
  wallMs.forward = ms.forward;
  reps.forward = forwardTimes.length;
  void send({ kind: 'progress', text: `forward ${ms.forward.toFixed(1)} ms (${engine.backend})` });

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
    return { ms: map.summary.ms, wall };
  };
  const sustainedGradient = async () => {
    let total = { ms: 0, wall: 0 };
    for (let i = 0; i < SUSTAINED_RUNS; i++) {
      const r = await explainOnce(EXPLAIN.gradient);
      total = { ms: total.ms + r.ms / SUSTAINED_RUNS, wall: total.wall + r.wall / SUSTAINED_RUNS };
    }
    return total;
  };
  // SmoothGrad-50 and IG-50 ÷ one gradient are targets: this machine's speed drifts by tens of percent
  // over seconds, so the sustained gradient is also sampled right before every SmoothGrad / IG run.
  const sustained = { ms: [] as number[], wall: [] as number[] };

  for (const measure of Object.keys(EXPLAIN) as Array<keyof typeof EXPLAIN>) {
    const options = EXPLAIN[measure];
    const run = measure === 'gradient50' ? sustainedGradient : () => explainOnce(options, ONE_THREAD.has(measure) ? oneThread : engine);
    try {
      await run(); // warm-up
      const wallTimes: number[] = [];
      const mapTimes = await repeat(reps[measure], spec.quick, async () => {
        if (measure === 'gradient') {
          // gradient ÷ forward is a target: sample both under the same machine conditions, alternately.
          const t0 = performance.now();
          await engine.predict(spec.modelPath, image);
          forwardTimes.push(performance.now() - t0);
        }
        if (SUSTAINED.has(measure)) {
          const g = await sustainedGradient();
          sustained.ms.push(g.ms);
          sustained.wall.push(g.wall);
        }
        const { ms: mapMs, wall } = await run();
        wallTimes.push(wall);
        if (measure === 'gradient50') {
          sustained.ms.push(mapMs);
          sustained.wall.push(wall);
        }
        return mapMs;
      });
      ms[measure] = median(mapTimes);
      wallMs[measure] = median(wallTimes);
      reps[measure] = mapTimes.length;
      if (SUSTAINED.has(measure)) {
        ms.gradient50 = median(sustained.ms);
        wallMs.gradient50 = median(sustained.wall);
        reps.gradient50 = sustained.ms.length;
      }
      if (measure === 'gradient') {
        ms.forward = wallMs.forward = median(forwardTimes);
        reps.forward = forwardTimes.length;
      }
    } catch (error) {
      // One failing method should not hide the figures of the others.
      errors[measure] = error instanceof Error ? error.message : String(error);
      ms[measure] = wallMs[measure] = Number.NaN;
      reps[measure] = 0;
      void send({ kind: 'progress', text: `${measure} failed: ${error instanceof Error ? error.stack : String(error)}` });
      continue;
    }
    void send({ kind: 'progress', text: `${measure} ${ms[measure].toFixed(1)} ms` });
  }

  return {
    name: spec.name,
    modelPath: spec.modelPath,
    targets: spec.targets,
    backend: engine.backend,
    threads: engine.lanes.threads + 1,
    inputShape: [...description.inputShape],
    params: description.totalParams,
    loadMs,
    ms,
    wallMs,
    reps,
    // maxRSS is in kilobytes.
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    errors,
  };
}

/** Entry point of a forked child: measures one model and sends the result to the parent. */
export async function runChild(spec: ChildSpec): Promise<void> {
  try {
    await send({ kind: 'result', result: await measureModel(spec) });
  } catch (error) {
    await send({ kind: 'error', error: error instanceof Error ? error.stack ?? error.message : String(error) });
  }
  // The IPC channel would keep the child alive.
  if (process.connected) process.disconnect();
}
