/**
 * Attribution at a layer, as Lucid's building-blocks notebooks compute it (AttrSpatial.ipynb, AttrChannel.ipynb):
 * the score is a class logit or the difference of two; attributions are activation × gradient summed over
 * channels (spatial) or over positions (channel), the channel one also path-integrated (N scaled copies of
 * the activations, left Riemann sum). All model calls go through ModelPasses.
 */
import { throwIfAborted } from '../../protocol/errors';
import type { ModelPasses } from '../featureVis/passes';
import type { RunHooks } from '../types';

/** Positions or path points evaluated per backward batch (bounds memory and the time a cancel waits). */
const CHUNK = 8;

/** d score / d logits: +1 at the class, −1 at the class it is compared with. */
export function scoreWeights(numClasses: number, classIndex: number, versusClass?: number): Float32Array {
  const w = new Float32Array(numClasses);
  w[classIndex] = 1;
  if (versusClass !== undefined) w[versusClass] = -1;
  return w;
}

function repeat(values: Float32Array, times: number): Float32Array {
  const out = new Float32Array(values.length * times);
  for (let t = 0; t < times; t++) out.set(values, t * values.length);
  return out;
}

function score(logits: Float32Array, weights: Float32Array, b: number): number {
  let s = 0;
  for (let c = 0; c < weights.length; c++) s += weights[c]! * logits[b * weights.length + c]!;
  return s;
}

export interface ClassGradient {
  /** ∂score/∂acts at the layer, H·W·C. */
  gradient: Float32Array;
  score: number;
  /** Σ_c act·grad per position. */
  spatial: Float32Array;
}

/** Class → space: one backward from the score to the layer. */
export async function spatialToClass(passes: ModelPasses, layer: string, input: Float32Array, acts: Float32Array, channels: number,
  weights: Float32Array): Promise<ClassGradient> {
  const { logits, gradient } = await passes.logitGradient(layer, input, acts, 1, weights);
  const positions = acts.length / channels;
  const spatial = new Float32Array(positions);
  for (let p = 0; p < positions; p++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += acts[p * channels + c]! * gradient[p * channels + c]!;
    spatial[p] = s;
  }
  return { gradient, score: score(logits, weights, 0), spatial };
}

/**
 * Layer → later layer: for every position of the later layer, the gradient of the norm of its activation
 * vector back to this layer, times this layer's activations, summed over channels. One backward per later position.
 */
export async function spatialToLayer(passes: ModelPasses, layer: string, input: Float32Array, acts: Float32Array, channels: number,
  toLayer: string, toShape: [number, number, number], hooks: RunHooks = {}): Promise<number[][]> {
  const [h2, w2, c2] = toShape;
  const total = h2 * w2;
  const positions = acts.length / channels;
  const maps: number[][] = [];
  for (let start = 0; start < total; start += CHUNK) {
    throwIfAborted(hooks.signal);
    const count = Math.min(CHUNK, total - start);
    const { gradient } = await passes.layerGradient(layer, repeat(input, count), repeat(acts, count), count, toLayer, (acts2) => {
      const seed = new Float32Array(acts2.length);
      for (let b = 0; b < count; b++) {
        const o = (b * total + start + b) * c2;
        let norm = 0;
        for (let c = 0; c < c2; c++) norm += acts2[o + c]! ** 2;
        norm = Math.sqrt(norm);
        // ∂‖v‖/∂v = v/‖v‖ (0 at v = 0, as TensorFlow's norm gradient gives NaN there and Lucid's maps show nothing)
        if (norm > 0) for (let c = 0; c < c2; c++) seed[o + c] = acts2[o + c]! / norm;
      }
      return seed;
    });
    for (let b = 0; b < count; b++) {
      const map = new Array<number>(positions);
      for (let p = 0; p < positions; p++) {
        let s = 0;
        for (let c = 0; c < channels; c++) s += acts[p * channels + c]! * gradient[(b * positions + p) * channels + c]!;
        map[p] = s;
      }
      maps.push(map);
    }
    hooks.onProgress?.((start + count) / total, `layer → ${toLayer}: ${start + count}/${total} positions`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return maps;
}

export interface ChannelAttribution {
  simple: Float32Array;
  integrated: Float32Array;
  integratedSum: number;
  /** score(acts) − score(0 · acts). */
  scoreDifference: number;
}

/** Per channel Σ_positions act·grad, simple (from `gradient` at the activations) and path-integrated over N steps. */
export async function channelAttribution(passes: ModelPasses, layer: string, input: Float32Array, acts: Float32Array, channels: number,
  weights: Float32Array, classGradient: ClassGradient, steps: number, hooks: RunHooks = {}): Promise<ChannelAttribution> {
  const positions = acts.length / channels;
  const perChannel = (g: Float32Array, offset: number, into: Float32Array, scale: number) => {
    for (let p = 0; p < positions; p++) {
      for (let c = 0; c < channels; c++) into[c]! += scale * acts[p * channels + c]! * g[offset + p * channels + c]!;
    }
  };
  const simple = new Float32Array(channels);
  perChannel(classGradient.gradient, 0, simple, 1);
  const integrated = new Float32Array(channels);
  let scoreAtZero = 0;
  for (let start = 0; start < steps; start += CHUNK) {
    throwIfAborted(hooks.signal);
    const count = Math.min(CHUNK, steps - start);
    const scaled = new Float32Array(acts.length * count);
    for (let b = 0; b < count; b++) {
      const alpha = (start + b) / steps; // Lucid: n/N for n = 0 … N − 1
      for (let i = 0; i < acts.length; i++) scaled[b * acts.length + i] = alpha * acts[i]!;
    }
    const { logits, gradient } = await passes.logitGradient(layer, repeat(input, count), scaled, count, weights);
    if (start === 0) scoreAtZero = score(logits, weights, 0);
    for (let b = 0; b < count; b++) perChannel(gradient, b * acts.length, integrated, 1 / steps);
    hooks.onProgress?.((start + count) / steps, `path-integrated channel attribution ${start + count}/${steps}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return {
    simple, integrated, integratedSum: integrated.reduce((s, v) => s + v, 0), scoreDifference: classGradient.score - scoreAtZero,
  };
}

/** Each neuron group's attribution: Σ_{p,c} spatial[k,p] · channel[k,c] · grad[p,c] (NeuronGroups.ipynb). */
export function groupAttribution(spatial: number[][], channelFactors: number[][], gradient: Float32Array, channels: number): number[] {
  return spatial.map((map, k) => {
    let s = 0;
    for (let p = 0; p < map.length; p++) {
      if (map[p] === 0) continue;
      let d = 0;
      for (let c = 0; c < channels; c++) d += channelFactors[k]![c]! * gradient[p * channels + c]!;
      s += map[p]! * d;
    }
    return s;
  });
}
