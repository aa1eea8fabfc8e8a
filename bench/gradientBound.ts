/**
 * What ONNX Runtime's kernels allow for "one gradient ≤ 2.5× its forward": the forward program, the gradient program
 * Loupe runs, and that gradient program with its ReLU-family masks taken out (each `dy · Cast(0 < y [< max])` replaced
 * by dy, and the mask ops left without a reader removed), timed as bare session runs, alternately, at batch 1.
 * The mask-free program computes a wrong gradient; its cost is what any way of applying the masks would add to
 * (masks fused into hand-written backward kernels would cost ~nothing), so its ratio to the forward is a floor for
 * the gradient's ratio on ONNX Runtime's op set.
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
  /** Mask multiplies taken out, and nodes removed with them. */
  masks: number;
  removedNodes: number;
  rounds: number;
}

/** The gradient program without its ReLU-family masks (see above), and how many it had. */
export function withoutMasks(bytes: Uint8Array): { bytes: Uint8Array; masks: number; removedNodes: number } {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const nodes = graph.node!;
  const producer = new Map<string, onnx.INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  const isMask = (name: string) => {
    const cast = producer.get(name);
    if (cast?.opType !== 'Cast') return false;
    const from = producer.get(cast.input![0]!)?.opType;
    return from === 'Greater' || from === 'And' || from === 'Less';
  };
  const replaced = new Map<string, string>();
  const kept: onnx.INodeProto[] = [];
  for (const n of nodes) {
    const inputs = n.input ?? [];
    if (n.opType === 'Mul' && inputs.length === 2 && inputs.some(isMask) && !inputs.every(isMask)) {
      replaced.set(n.output![0]!, inputs.find((i) => !isMask(i))!);
      continue;
    }
    kept.push(n);
  }
  const resolve = (name: string): string => (replaced.has(name) ? resolve(replaced.get(name)!) : name);
  for (const n of kept) n.input = (n.input ?? []).map(resolve);
  // Only nodes some graph output depends on stay (ONNX Runtime runs every node of a session).
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
  };
  const sessions: Partial<Record<keyof typeof programs, Ort.InferenceSession>> = {};
  try {
    for (const [k, bytes] of Object.entries(programs)) {
      sessions[k as keyof typeof programs] = await ort.InferenceSession.create(bytes, sessionOptions(threads, true));
    }
    const onehot = new Float32Array(graph.numClasses);
    onehot[0] = 1;
    const all: Record<string, Ort.Tensor> = {
      x: new ort.Tensor('float32', x, [1, h!, w!, c!]),
      onehot: new ort.Tensor('float32', onehot, [1, graph.numClasses]),
      w: new ort.Tensor('float32', new Float32Array([1]), [1]),
    };
    const times: Record<string, number[]> = { forward: [], gradient: [], maskFree: [] };
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
      masks: stripped.masks, removedNodes: stripped.removedNodes, rounds,
    };
  } finally {
    for (const s of Object.values(sessions)) await s.release();
  }
}
