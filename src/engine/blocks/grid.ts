/**
 * The activation grid, Lucid's "less naive" recipe (ActivationGrid.ipynb, render_activation_grid_less_naive):
 * one image per position of the layer, each maximising the dot product with that position's activation
 * vector. Images share parameters through the NMF neuron groups — image_i = to_valid_rgb(0.7·unique_i +
 * 0.5·Σ_j groups[i, j]·group_j), groups normalised to a maximum of 1 — and each step optimises a random batch
 * of positions, with Lucid's make_vis_T defaults (Adam 0.05, jitter 8 only, no redirected ReLU).
 */
import * as tf from '@tensorflow/tfjs';
import type { ActivationGridOptions, ActivationGridResult } from '../../protocol/blocks';
import { LoupeError, throwIfAborted } from '../../protocol/errors';
import { Adam } from '../featureVis/adam';
import { FourierImage } from '../featureVis/param';
import { ModelPasses } from '../featureVis/passes';
import { inputMap, modelInput, parameterGradient } from '../featureVis/pipeline';
import { drawTransforms, prepareTransforms } from '../featureVis/transforms';
import { drawSeed } from '../params';
import { mulberry32 } from '../random';
import type { RunHooks } from '../types';
import { neuronGroups } from './groups';
import { imageGridPng } from './pictures';
import { resolveBlocksOptions, type BlocksContext, type PreparedImage } from './run';

export const GRID_DEFAULTS = Object.freeze({ cellSize: 42, steps: 256, positionsPerStep: 64, seed: 0 });

function intIn(name: string, value: unknown, fallback: number, lo: number, hi: number): number {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || (value as number) < lo || (value as number) > hi) {
    throw new LoupeError('BAD_REQUEST', `${name} must be an integer in [${lo}, ${hi}] (got ${JSON.stringify(value)})`);
  }
  return value as number;
}

export async function runActivationGrid(ctx: BlocksContext, prepared: PreparedImage, options: ActivationGridOptions,
  hooks: RunHooks = {}): Promise<ActivationGridResult> {
  const t0 = performance.now();
  const { model } = ctx;
  const opts = resolveBlocksOptions(model, options);
  const [h, w, c] = opts.shape;
  const [H, W, C] = model.graph.inputShape;
  const size = intIn('cellSize', options.cellSize, Math.min(GRID_DEFAULTS.cellSize, H, W), 12, 256);
  const steps = intIn('steps', options.steps, GRID_DEFAULTS.steps, 1, 100000);
  const perStep = intIn('positionsPerStep', options.positionsPerStep, GRID_DEFAULTS.positionsPerStep, 1, 1024);
  const seed = intIn('seed', options.seed, GRID_DEFAULTS.seed, 0, 2 ** 31);
  const passes = new ModelPasses(model);
  const [acts] = await passes.activations([opts.layer], prepared.input, 1);
  const n = h * w;
  const k = opts.groups;
  const groups = neuronGroups(acts!, h, w, c, k);
  // groups[i, j] = W[i, j] / max_i W[i, j]
  const mix = new Float32Array(n * k);
  for (let j = 0; j < k; j++) {
    const peak = Math.max(...groups.spatial[j]!) || 1;
    for (let i = 0; i < n; i++) mix[i * k + j] = groups.spatial[j]![i]! / peak;
  }
  const unique = new FourierImage({ batch: n, height: size, width: size, channels: C, decayPower: 1, decorrelate: true });
  const shared = new FourierImage({ batch: k, height: size, width: size, channels: C, decayPower: 1, decorrelate: true });
  const perImage = unique.size / n;
  const theta = new Float32Array(unique.size + shared.size);
  theta.set(unique.initial(drawSeed(seed, 0), 0.01));
  theta.set(shared.initial(drawSeed(seed, 1), 0.01), unique.size);
  const adam = new Adam(theta.length, 0.05, 0.9, 0.999, 1e-8);
  const map = inputMap(model.description.preprocessing, C);
  const jitter = [{ kind: 'jitter' as const, pixels: 8 }];
  const notes = [...opts.notes];
  const values: number[] = [];

  /** Images of the positions `which` (pre-colour mix of their unique image and the shared group images). */
  const images = (params: tf.Tensor, which: Int32Array): tf.Tensor4D => {
    const u = params.slice(0, unique.size).reshape([2, n, perImage / 2]);
    const picked = tf.gather(u, tf.tensor1d(which, 'int32'), 1); // [2, P, C·S·WF]
    const one = new FourierImage({ batch: which.length, height: size, width: size, channels: C, decayPower: 1, decorrelate: true });
    const rawUnique = one.raw(picked.reshape([-1]));
    const rawGroups = shared.raw(params.slice(unique.size, shared.size));
    const weights = tf.tensor2d(Float32Array.from(Array.from(which).flatMap((i) => Array.from(mix.subarray(i * k, (i + 1) * k)))), [which.length, k]);
    const mixed = tf.add(tf.mul(rawUnique, 0.7), tf.mul(tf.matMul(weights, rawGroups.reshape([k, -1])).reshape(rawUnique.shape), 0.5));
    return one.toValid(mixed as tf.Tensor4D);
  };

  for (let step = 0; step < steps; step++) {
    throwIfAborted(hooks.signal);
    const rand = mulberry32(drawSeed(seed, step + 2));
    const which = Int32Array.from({ length: perStep }, () => Math.min(n - 1, Math.floor(rand() * n)));
    const stages = prepareTransforms(drawTransforms(jitter, size, size, H, W, rand), size, size);
    const image = (p: tf.Tensor) => images(p, which);
    const input = modelInput(image, theta, stages, map);
    // direction(layer, acts[i], batch=b): mean over the image's positions of acts · v_i
    // A fixed seed (it does not read the activations): one forward and backward on ONNX Runtime.
    const per = h * w;
    const seedValues = new Float32Array(perStep * per * c);
    for (let b = 0; b < perStep; b++) {
      const v = acts!.subarray(which[b]! * c, (which[b]! + 1) * c);
      for (let p = 0; p < per; p++) for (let ch = 0; ch < c; ch++) seedValues[(b * per + p) * c + ch] = v[ch]! / per;
    }
    const { gradient, activations } = await passes.inputGradient(opts.layer, input, perStep, seedValues);
    values.push(directionObjective(activations, acts!, which, c));
    const dTheta = parameterGradient(image, theta, stages, map, gradient, [perStep, H, W, C]);
    adam.ascend(theta, dTheta);
    hooks.onProgress?.((step + 1) / steps, `activation grid: step ${step + 1}/${steps}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  throwIfAborted(hooks.signal);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const final = tf.tidy(() => images(tf.tensor1d(theta), all).slice([0, 2, 2, 0], [-1, size - 4, size - 4, -1]));
  const pixels = Float32Array.from(final.dataSync());
  final.dispose();
  if (groups.clipped) notes.push(`'${opts.layer}' has negative activations; the neuron groups factorise max(activation, 0)`);
  return {
    layer: opts.layer, rows: h, cols: w, cellSize: size - 4, steps,
    png: imageGridPng(pixels, h, w, size - 4, C).toString('base64'),
    ms: performance.now() - t0, backend: ctx.backend, notes, values,
  };
}

/** Σ over the batch of each image's mean (over positions) of acts · (its position's activation vector). */
function directionObjective(batchActs: Float32Array, target: Float32Array, which: Int32Array, c: number): number {
  const per = batchActs.length / which.length / c;
  let total = 0;
  which.forEach((pos, b) => {
    let s = 0;
    for (let p = 0; p < per; p++) for (let ch = 0; ch < c; ch++) s += batchActs[(b * per + p) * c + ch]! * target[pos * c + ch]!;
    total += s / per;
  });
  return total;
}
