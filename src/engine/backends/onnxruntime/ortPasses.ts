import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';
import type { TargetKind } from '../../../protocol/types';
import type { IRGraph, ReluRule } from '../../model/ir';
import type { WeightStore } from '../../model/weightStore';
import type { ClassTarget, ObjectiveSeed, Passes, SampleBatch } from '../../passes';
import { compileProgram, programKey, type Program } from './programs';

export type OrtModule = typeof Ort;
/** A graph input as values. */
type Values = { data: Float32Array; shape: readonly number[] };
let loaded: OrtModule | null | undefined;
let loadError = '';

/** onnxruntime-node, when its package and native binary load on this machine (else undefined, and why in `onnxRuntimeError`). */
export function loadOnnxRuntime(): OrtModule | undefined {
  if (loaded === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require('onnxruntime-node') as OrtModule;
    } catch (e) {
      loaded = null;
      loadError = (e as Error).message.split('\n')[0] ?? String(e);
    }
  }
  return loaded ?? undefined;
}

export function onnxRuntimeError(): string {
  return loadError;
}

/**
 * Sessions of one model kept at once, per weight store: as many as fit SESSION_BUDGET_BYTES at ~4× the weights each
 * (measured on ResNet18, 45 MB of weights: +70 to +240 MB of RSS per session), at least 2 (the forward and one
 * gradient program) and at most 6 (the CLI's default methods use 6 programs; rebuilding one cost ResNet18 0.6 s).
 * VGG16's 528 MB of weights then keeps 2, where a fixed 4 held ~8 GB.
 */
const SESSION_BUDGET_BYTES = 1.2 * 2 ** 30;

export function sessionsToKeep(weightBytes: number): number {
  return Math.max(2, Math.min(6, Math.floor(SESSION_BUDGET_BYTES / Math.max(1, 4 * weightBytes))));
}

/** The options of every session the passes build (the bench builds its cost-bound sessions with them too). */
export function sessionOptions(threads: number, spin: boolean): Ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential', logSeverityLevel: 3,
    extra: { session: spin ? { 'intra_op.allow_spinning': '1', force_spinning_stop: '1' } : { 'intra_op.allow_spinning': '0' } },
  };
}

/**
 * The passes on ONNX Runtime's CPU kernels, every core per run. Each program (programs.ts) is compiled
 * from the model's graph the first time a request needs it and kept as a session (least recently used
 * out beyond sessionsToKeep); weights other than the model's own (the sanity check's) get their own sessions.
 */
export class OrtPasses implements Passes {
  readonly backend = 'onnxruntime' as const;
  private readonly sessions = new WeakMap<WeightStore, Map<string, Promise<Ort.InferenceSession>>>();
  /** Weights in ONNX layout, shared by the programs of a store (their forward parts hold the same initializers). */
  private readonly prepared = new WeakMap<WeightStore, Map<string, { data: Float32Array; shape: number[] }>>();
  private readonly live = new Set<Map<string, Promise<Ort.InferenceSession>>>();
  private readonly options: Ort.InferenceSession.SessionOptions;
  private readonly quietOptions: Ort.InferenceSession.SessionOptions;
  private readonly maxSessions: number;

  constructor(private readonly ort: OrtModule, private readonly graph: IRGraph, threads = os.availableParallelism()) {
    this.maxSessions = sessionsToKeep(graph.weights.names().reduce((n, name) => n + 4 * graph.weights.get(name).size, 0));
    // Warnings off: ONNX Runtime logs every initializer its optimiser folds away. Its threads spin while a run lasts
    // (waking a sleeping thread for each of a gradient's ~170 nodes cost ResNet18 9% and MobileNetV2 20%) and stop
    // when it returns: a pool left spinning keeps a core busy, which the engine's own work between runs and the
    // next session's threads need (ResNet18's gradient took 66 ms with spinning left on, 46 ms without).
    // Feature visualisation's programs (seeded) do not spin: between runs its parameterisation shares the cores with a
    // helper thread, and its share of a step rose from 24–25% to 28–30% with spinning (measured).
    this.options = sessionOptions(threads, true);
    this.quietOptions = sessionOptions(threads, false);
  }

  /** Builds the sessions of `programs` now, in parallel (the first requests then run at full speed). */
  async prepare(...programs: Program[]): Promise<void> {
    await Promise.all(programs.map((p) => this.session(p, this.graph.weights)));
  }

  async forward(x: tf.Tensor4D, outputs: string[], weights?: WeightStore): Promise<tf.Tensor[]> {
    const r = await this.run({ kind: 'forward', outputs }, weights, { x });
    return outputs.map((_, i) => r[`out${i}`]!);
  }

  async inputGradient(x: tf.Tensor4D, target: ClassTarget, rule: ReluRule, weights?: WeightStore): Promise<tf.Tensor4D> {
    const r = await this.runClass(x, target, rule, [], weights, ['gradient']);
    return r.gradient as tf.Tensor4D;
  }

  async gradientSums(x: SampleBatch, target: ClassTarget, sampleWeights: number[], squares: boolean, weights?: WeightStore) {
    const program: Program = { kind: 'class', rule: 'standard', target: target.kind as TargetKind, taps: [] };
    const r = await this.runValues(program, weights, { x, ...this.classFeeds(x.shape[0], target, sampleWeights) }, squares ? ['sum', 'sumSq'] : ['sum']);
    return { sum: r.sum!.data as Float32Array, ...(squares ? { sumSq: r.sumSq!.data as Float32Array } : {}) };
  }

  async layerGradient(x: tf.Tensor4D, layer: string, target: ClassTarget, weights?: WeightStore) {
    const r = await this.runClass(x, target, 'standard', [layer], weights, ['activation0', 'tapGradient0']);
    return { activation: r.activation0!, gradient: r.tapGradient0! };
  }

  async seededGradient(x: tf.Tensor4D, of: string, seed: tf.Tensor, wrt: string, rule: ReluRule, weights?: WeightStore): Promise<tf.Tensor> {
    const r = await this.run({ kind: 'seeded', of, wrt, rule }, weights, { x, seed }, ['gradient']);
    return r.gradient!;
  }

  async objectiveGradient(x: tf.Tensor4D, of: string, seed: ObjectiveSeed, rule: ReluRule): Promise<{ value: tf.Tensor; gradient: tf.Tensor4D }> {
    const program: Program = { kind: 'seeded', of, wrt: this.graph.inputName, rule, value: true };
    if (typeof seed !== 'function') {
      const r = await this.run(program, undefined, { x, seed }, ['value', 'gradient']);
      return { value: r.value!, gradient: r.gradient as tf.Tensor4D };
    }
    // A seed that reads the values: a forward to `of` first (a session cannot stop between its forward and backward).
    const [value] = await this.forward(x, [of]);
    const s = seed(value!);
    try {
      const r = await this.run({ kind: 'seeded', of, wrt: this.graph.inputName, rule }, undefined, { x, seed: s }, ['gradient']);
      return { value: value!, gradient: r.gradient as tf.Tensor4D };
    } finally {
      if (s !== value) s.dispose();
    }
  }

  dispose(): void {
    for (const map of this.live) {
      for (const s of map.values()) s.then((session) => session.release(), () => undefined);
      map.clear();
    }
    this.live.clear();
  }

  /** Releases the sessions built for other weights (the sanity check's) once they are no longer used. */
  forgetWeights(weights: WeightStore): void {
    const map = this.sessions.get(weights);
    if (!map || weights === this.graph.weights) return;
    for (const s of map.values()) s.then((session) => session.release(), () => undefined);
    this.live.delete(map);
    this.sessions.delete(weights);
    this.prepared.delete(weights);
  }

  private runClass(x: tf.Tensor4D, target: ClassTarget, rule: ReluRule, taps: string[], weights: WeightStore | undefined, fetch: string[]) {
    const program: Program = { kind: 'class', rule, target: target.kind as TargetKind, taps };
    return this.run(program, weights, { x }, fetch, this.classFeeds(x.shape[0], target));
  }

  /** A class program's other inputs for n samples: the class one-hot, and the samples' weights in its sums. */
  private classFeeds(n: number, target: ClassTarget, sampleWeights?: number[]): Record<string, Values> {
    const k = this.graph.numClasses;
    const onehot = new Float32Array(n * k);
    for (let i = 0; i < n; i++) onehot[i * k + target.classIndex] = 1;
    return { onehot: { data: onehot, shape: [n, k] }, w: { data: sampleWeights ? Float32Array.from(sampleWeights) : new Float32Array(n).fill(1), shape: [n] } };
  }

  private async run(program: Program, weights: WeightStore | undefined, feeds: Record<string, tf.Tensor>, fetch?: string[],
    values: Record<string, Values> = {}): Promise<Record<string, tf.Tensor>> {
    const all = { ...values };
    for (const [k, t] of Object.entries(feeds)) all[k] = { data: t.dataSync() as Float32Array, shape: t.shape };
    const results = await this.runValues(program, weights, all, fetch);
    const out: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(results)) out[k] = tf.tensor(v.data as Float32Array, v.dims as number[], 'float32');
    return out;
  }

  /** Runs a program on plain arrays; only the inputs it reads are fed (a program with taps has no sample weights). */
  private async runValues(program: Program, weights: WeightStore | undefined, feeds: Record<string, Values>, fetch?: string[]) {
    const session = await this.session(program, weights ?? this.graph.weights);
    const ortFeeds: Record<string, Ort.Tensor> = {};
    for (const k of session.inputNames) ortFeeds[k] = new this.ort.Tensor('float32', feeds[k]!.data, feeds[k]!.shape);
    return session.run(ortFeeds, fetch ?? session.outputNames);
  }

  private session(program: Program, weights: WeightStore): Promise<Ort.InferenceSession> {
    let map = this.sessions.get(weights);
    if (!map) {
      map = new Map();
      this.sessions.set(weights, map);
      this.live.add(map);
    }
    const key = programKey(program);
    let s = map.get(key);
    if (s) {
      // Most recently used last.
      map.delete(key);
      map.set(key, s);
      return s;
    }
    let prepared = this.prepared.get(weights);
    if (!prepared) this.prepared.set(weights, (prepared = new Map()));
    s = this.ort.InferenceSession.create(compileProgram(this.graph, weights, program, prepared), program.kind === 'seeded' ? this.quietOptions : this.options);
    map.set(key, s);
    s.catch(() => map!.delete(key));
    while (map.size > this.maxSessions) {
      const [oldest, session] = map.entries().next().value as [string, Promise<Ort.InferenceSession>];
      map.delete(oldest);
      session.then((old) => old.release(), () => undefined);
    }
    return s;
  }
}
