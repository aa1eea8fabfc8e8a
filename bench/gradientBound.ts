/**
 * What ONNX Runtime's kernels allow for "one gradient ≤ 2.5× its forward": the forward program, the gradient program
 * Loupe runs, and two variants of that gradient program, timed as bare session runs, alternately, at batch 1:
 * - mask-free: each ReLU-family mask multiply `dy · Cast(0 < y [< max])` replaced by dy, and the mask ops left without a
 *   reader removed. Its cost is everything but the masks: a floor for any way of applying them (masks fused into
 *   hand-written backward kernels would cost ~nothing).
 * - one multiply: each mask multiply replaced by `dy · y`, one elementwise pass reading dy and the unit's output. Any mask
 *   built from ONNX Runtime's ops costs at least that (an op that makes the 0/1 mask from y, then the multiply): a floor
 *   for the gradient on this op set.
 * Both variants compute wrong gradients on purpose; only their cost is meaningful.
 */
import { median } from 'simple-statistics';
import { onnx } from 'onnx-proto';
import type * as Ort from 'onnxruntime-node';
import type { IRGraph } from '../src/engine/model/ir';
import { compileProgram } from '../src/engine/backends/onnxruntime/programs';
import { sessionOptions, type OrtModule } from '../src/engine/backends/onnxruntime/ortPasses';

export interface GradientBound {
  /** Median ms of bare session runs. */
  forwardMs: number;
  gradientMs: number;
  maskFreeMs: number;
  oneMultiplyMs: number;
  /** Mask multiplies taken out, and nodes removed with them (mask-free program). */
  masks: number;
  removedNodes: number;
  rounds: number;
}

export interface RewrittenProgram { bytes: Uint8Array; masks: number; removedNodes: number }

/** The gradient program without its ReLU-family masks (see above), and how many it had. */
export function withoutMasks(bytes: Uint8Array): RewrittenProgram {
  return rewriteMasks(bytes, (dy) => dy);
}

/** The gradient program with each ReLU-family mask multiply replaced by dy · y (see above). */
export function withOneMultiply(bytes: Uint8Array): RewrittenProgram {
  return rewriteMasks(bytes, (dy, y, emit) => emit(dy, y));
}

/**
 * Replaces each `Mul(dy, Cast(Greater | And | Less …))` by what `replace` returns, from dy and the tensor the mask
 * compares (y); `emit` adds a Mul node. Then keeps only nodes some graph output depends on (ONNX Runtime runs every
 * node of a session).
 */
function rewriteMasks(bytes: Uint8Array, replace: (dy: string, y: string, emit: (a: string, b: string) => string) => string): RewrittenProgram {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const nodes = graph.node!;
  const producer = new Map<string, onnx.INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  /** The tensor a mask compares, when `name` is a mask. */
  const compared = (name: string): string | undefined => {
    const cast = producer.get(name);
    if (cast?.opType !== 'Cast') return undefined;
    const test = producer.get(cast.input![0]!);
    if (test?.opType === 'Greater' || test?.opType === 'Less') return test.input![0]!;
    if (test?.opType === 'And') return producer.get(test.input![0]!)?.input?.[0];
    return undefined;
  };
  const replaced = new Map<string, string>();
  const kept: onnx.INodeProto[] = [];
  for (const n of nodes) {
    const inputs = n.input ?? [];
    const maskAt = inputs.findIndex((i) => compared(i) !== undefined);
    if (n.opType === 'Mul' && inputs.length === 2 && maskAt >= 0 && compared(inputs[1 - maskAt]!) === undefined) {
      const out = n.output![0]!;
      const result = replace(inputs[1 - maskAt]!, compared(inputs[maskAt]!)!, (a, b) => {
        kept.push({ opType: 'Mul', name: `${out}/oneMultiply`, input: [a, b], output: [`${out}/oneMultiply`] });
        return `${out}/oneMultiply`;
      });
      replaced.set(out, result);
      continue;
    }
    kept.push(n);
  }
  const resolve = (name: string): string => (replaced.has(name) ? resolve(replaced.get(name)!) : name);
  for (const n of kept) n.input = (n.input ?? []).map(resolve);
  const needed = new Set((graph.output ?? []).map((o) => o.name!));
  const live: onnx.INodeProto[] = [];
  for (const n of [...kept].reverse()) {
    if (!(n.output ?? []).some((o) => needed.has(o))) continue;
    live.push(n);
    for (const i of n.input ?? []) needed.add(i);
  }
  graph.node = live.reverse();
  return { bytes: onnx.ModelProto.encode(model).finish(), masks: replaced.size, removedNodes: nodes.length - live.length };
}

export async function measureGradientBound(ort: OrtModule, graph: IRGraph, x: Float32Array, threads: number, rounds = 40): Promise<GradientBound> {
  const [h, w, c] = graph.inputShape;
  const gradientBytes = compileProgram(graph, graph.weights, { kind: 'class', rule: 'standard', target: 'logit', taps: [] });
  const stripped = withoutMasks(gradientBytes);
  const programs = {
    forward: compileProgram(graph, graph.weights, { kind: 'forward', outputs: [graph.logitsName] }),
    gradient: gradientBytes,
    maskFree: stripped.bytes,
    oneMultiply: withOneMultiply(gradientBytes).bytes,
  };
  const sessions: Partial<Record<keyof typeof programs, Ort.InferenceSession>> = {};
  try {
    for (const [k, bytes] of Object.entries(programs)) {
      const options = sessionOptions(threads, true);
      // The wrong-on-purpose programs' values drift (dy · y compounds over layers): denormals as zero keeps a slow
      // denormal path from inflating a floor. It can only lower their cost, so they stay floors.
      if (k === 'maskFree' || k === 'oneMultiply') {
        const session = (options.extra as { session: Record<string, string> }).session;
        session['set_denormal_as_zero'] = '1';
      }
      sessions[k as keyof typeof programs] = await ort.InferenceSession.create(bytes, options);
    }
    const onehot = new Float32Array(graph.numClasses);
    onehot[0] = 1;
    const all: Record<string, Ort.Tensor> = {
      x: new ort.Tensor('float32', x, [1, h!, w!, c!]),
      onehot: new ort.Tensor('float32', onehot, [1, graph.numClasses]),
      w: new ort.Tensor('float32', new Float32Array([1]), [1]),
    };
    const times: Record<string, number[]> = { forward: [], gradient: [], maskFree: [], oneMultiply: [] };
    for (let round = -3; round < rounds; round++) {
      for (const [k, s] of Object.entries(sessions)) {
        const feeds = Object.fromEntries(s.inputNames.map((n) => [n, all[n]!]));
        const t0 = performance.now();
        await s.run(feeds);
        if (round >= 0) times[k]!.push(performance.now() - t0);
      }
    }
    return {
      forwardMs: median(times.forward!), gradientMs: median(times.gradient!), maskFreeMs: median(times.maskFree!),
      oneMultiplyMs: median(times.oneMultiply!),
      masks: stripped.masks, removedNodes: stripped.removedNodes, rounds,
    };
  } finally {
    for (const s of Object.values(sessions)) await s.release();
  }
}
