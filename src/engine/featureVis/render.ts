/**
 * Lucid's render_vis loop: each step draws the transforms, builds the model input from the parameters,
 * asks the model for the objective's input gradient (passes.ts), pulls it back through the transforms and
 * the parameterisation (fourierPipeline.ts: a vector-Jacobian product seeded by that gradient), and takes
 * one Adam ascent step. Seeded throughout: the same seed on the same backend gives the same image.
 */
import type { FeatureVisParams, FeatureVisPreview } from '../../protocol/featureVis';
import type { Preprocessing } from '../../protocol/types';
import { throwIfAborted } from '../../protocol/errors';
import { drawSeed } from '../params';
import { mulberry32 } from '../random';
import type { RunHooks } from '../types';
import { Adam } from './adam';
import type { LayerObjective } from './objectives';
import { FourierImage } from './param';
import type { ModelPasses } from './passes';
import { imageStripPng } from './png';
import { FourierPipeline } from './fourierPipeline';
import { SERIAL, ThreadSplitter } from './paramThreads';
import { inputMap } from './pipeline';
import { drawTransforms, prepareTransforms } from './transforms';

export interface RenderHooks extends RunHooks {
  onPreview?: (preview: FeatureVisPreview) => void;
  /** Where to say that the parameterisation runs on one thread (its helper could not start; the results are the same). */
  log?: (line: string) => void;
}

export interface RenderResult {
  /** The final images [batch, size, size, channels], values in (0, 1). */
  images: Float32Array;
  channels: number;
  values: number[];
  timing: { parameterisation: number; model: number; total: number };
  /** Notes for the summary: what the user should know about how the run went. */
  notes: string[];
}

export async function renderFeatureVis(passes: ModelPasses, objectives: LayerObjective[], params: FeatureVisParams,
  preprocessing: Preprocessing, hooks: RenderHooks = {}): Promise<RenderResult> {
  const C = passes.model.graph.inputShape[2];
  const { batch, size } = params;
  const fourier = new FourierImage({ batch, height: size, width: size, channels: C, decayPower: params.decayPower, decorrelate: params.decorrelate });
  // The parameterisation's large loops on two threads while the model is idle (same results as one).
  let split = ThreadSplitter.start(hooks.log);
  try {
    // Its start-up (loading the kernels) is not a step's time.
    await split?.ready.catch((err: Error) => {
      hooks.log?.(`the parameterisation runs on one thread: its helper thread did not start (${err.message})`);
      void split?.stop();
      split = undefined;
    });
    return await renderWith(passes, objectives, params, fourier, new FourierPipeline(fourier, inputMap(preprocessing, C), split ?? SERIAL), hooks);
  } finally {
    await split?.stop();
  }
}

async function renderWith(passes: ModelPasses, objectives: LayerObjective[], params: FeatureVisParams, fourier: FourierImage,
  pipeline: FourierPipeline, hooks: RenderHooks): Promise<RenderResult> {
  const [H, W, C] = passes.model.graph.inputShape;
  const { batch, size, steps } = params;
  // Where both threads of the parameterisation read it.
  const theta = pipeline.keep(fourier.size);
  theta.set(fourier.initial(drawSeed(params.seed, 0), params.sd));
  const adam = new Adam(theta.length, params.lr, params.beta1, params.beta2, params.epsilon, (n) => pipeline.keep(n));
  const values: number[] = [];
  const timing = { parameterisation: 0, model: 0, total: 0 };
  const notes: string[] = [];
  if (params.decorrelate && C !== 3) notes.push(`the model takes ${C}-channel images: colours are not decorrelated (Lucid's matrix is for RGB)`);
  const started = performance.now();

  const preview = (step: number, value: number) => {
    if (!hooks.onPreview) return;
    const images = pipeline.images(theta);
    hooks.onPreview({ step, steps, value, png: imageStripPng(images, batch, size, size, C).toString('base64') });
  };

  for (let step = 0; step < steps; step++) {
    throwIfAborted(hooks.signal);
    const t0 = performance.now();
    pipeline.recycle();
    const draws = prepareTransforms(drawTransforms(params.transforms, size, size, H, W, mulberry32(drawSeed(params.seed, step + 1))), size, size, pipeline.sharedTables);
    const input = pipeline.forward(theta, draws);
    const t1 = performance.now();
    const rule = step < params.redirectedSteps ? 'redirected' : 'standard';
    const inputGrad = pipeline.alloc(input.length);
    let value = 0;
    for (const objective of objectives) {
      const fixed = objective.fixedSeed;
      const r = await passes.inputGradient(objective.layer, input, batch, fixed ?? ((acts) => {
        const s = objective.seed(acts);
        value += s.value;
        return s.seed;
      }), rule);
      if (fixed) value += dot(fixed, r.activations);
      for (let i = 0; i < inputGrad.length; i++) inputGrad[i]! += r.gradient[i]!;
    }
    const t2 = performance.now();
    // Vector-Jacobian product of parameters → model input, seeded by the model's input gradient.
    const dTheta = pipeline.backward(inputGrad, [batch, H, W, C]);
    pipeline.ascend(adam, theta, dTheta);
    const t3 = performance.now();
    timing.parameterisation += t1 - t0 + (t3 - t2);
    timing.model += t2 - t1;
    values.push(value);
    if ((step + 1) % params.previewEvery === 0 && step + 1 < steps) preview(step + 1, value);
    hooks.onProgress?.((step + 1) / steps, `step ${step + 1}/${steps} · objective ${value.toPrecision(4)}`);
    // Lets a cancel message in between steps.
    await new Promise((resolve) => setImmediate(resolve));
  }
  throwIfAborted(hooks.signal);
  const images = pipeline.images(theta);
  timing.total = performance.now() - started;
  preview(steps, values.at(-1) ?? 0);
  if (values.length > 1 && !values.some((v) => v !== 0)) {
    notes.push('the objective stayed 0 throughout: the unit never fired on these images (a dead unit, or one the transforms keep below zero)');
  }
  return { images, channels: C, values, timing, notes };
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
