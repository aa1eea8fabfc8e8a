import * as tf from '@tensorflow/tfjs';
import type { ActivationSpec, IRNode, ReluRule } from '../../model/ir';
import type { OpSpec } from '../../model/ops';
import { NotCompilable, poolAttrs, type ConvPart, type Emitted, type ForwardEmitter } from './forward';
import type { GraphBuilder } from './graphBuilder';

/**
 * The backward pass as forward ops, written by hand per op as Loupe's TF.js executor does: input gradients
 * of convolutions as convolutions of flipped kernels (stride 1) or transposed convolutions, strided depthwise ones
 * as a stride-1 convolution of dy spread out with zeros (ONNX Runtime's depthwise ConvTranspose is slow), ReLU-family masks that
 * obey the guided-backprop and deconvnet rules, max pooling routed through its argmax indices.
 */
export function emitBackward(f: ForwardEmitter, of: string, seed: string, wrt: string | undefined, rule: ReluRule, taps: string[] = []): {
  gradient?: string; taps: Map<string, string>;
} {
  const { graph } = f;
  const order = graph.nodes.map((n) => n.name);
  // Only nodes downstream of wrt (or, without wrt, of a tap) carry gradient; the pass stops at the earliest of them.
  const reaches = new Set(wrt === undefined ? taps : [wrt]);
  for (const n of graph.nodes) if (n.inputs.some((i) => reaches.has(i))) reaches.add(n.name);
  if (!reaches.has(of)) throw new Error(`internal: '${of}' does not depend on '${wrt ?? taps.join(', ')}'`);
  const stop = Math.min(...[...reaches].map((name) => order.indexOf(name)));
  const grads = new Map<string, string[]>([[of, [seed]]]);
  const tapped = new Map<string, string>();
  for (let i = order.indexOf(of); i >= stop; i--) {
    const node = f.node(order[i]!);
    const parts = grads.get(node.name);
    if (!parts || node.name === wrt) continue;
    const dy = sum(f.b, parts);
    // Every consumer of this node comes later in topological order: its gradient is complete here.
    if (taps.includes(node.name)) {
      tapped.set(node.name, dy);
      if (wrt === undefined && tapped.size === taps.length) break;
    }
    const dxs = vjp(f, node, dy, rule);
    node.inputs.forEach((input, k) => {
      const dx = dxs[k];
      if (dx === undefined || !reaches.has(input)) return;
      const list = grads.get(input);
      if (list) list.push(dx);
      else grads.set(input, [dx]);
    });
  }
  for (const t of taps) if (!tapped.has(t)) throw new Error(`internal: no gradient reached '${t}'`);
  if (wrt === undefined) return { taps: tapped };
  const parts = grads.get(wrt);
  if (!parts) throw new Error(`internal: no gradient reached '${wrt}'`);
  return { gradient: sum(f.b, parts), taps: tapped };
}

function sum(b: GraphBuilder, parts: string[]): string {
  return parts.length === 1 ? parts[0]! : parts.length === 2 ? b.op('Add', parts) : b.op('Sum', parts);
}

/** d score / d inputs of one node, from d score / d output (NCHW throughout). */
function vjp(f: ForwardEmitter, node: IRNode, dy: string, rule: ReluRule): (string | undefined)[] {
  const b = f.b;
  const op = node.op!;
  const out = f.values.get(node.name)!;
  const x = f.input(node);
  switch (op.op) {
    case 'input':
      return [];
    case 'identity':
      return [dy];
    case 'conv': case 'separableConv': {
      const d = activationBackward(b, dy, out.pre ?? x.out, out.out, op.activation, rule);
      return [convBackward(f, node, op, d)];
    }
    case 'dense': {
      const d = activationBackward(b, dy, out.pre ?? x.out, out.out, op.activation, rule);
      return [b.op('MatMul', [d, f.weight(op.kernel, [1, 0])])];
    }
    case 'batchNorm':
      return [b.op('Mul', [dy, f.affine(op, x.rank).scale])];
    case 'activation':
      return [activationBackward(b, dy, x.out, out.out, op.activation, rule)];
    case 'pool':
      return [op.mode === 'max' ? maxPoolBackward(f, node, op, x, dy) : avgPoolBackward(f, node, op, dy)];
    case 'globalPool': {
      const [h, w] = f.inputSize(node);
      const d4 = op.keepDims ? dy : b.op('Unsqueeze', [dy, b.int64([2, 3])]);
      const spread = b.op('Expand', [d4, b.int64(nchwShape(f.node(node.inputs[0]!).outputShape, 1))]);
      if (op.mode === 'avg') return [b.op('Div', [spread, b.scalar(h * w)])];
      const y4 = op.keepDims ? out.out : b.op('Unsqueeze', [out.out, b.int64([2, 3])]);
      return [b.op('Where', [b.op('Equal', [x.out, y4]), spread, b.scalar(0)])];
    }
    case 'flatten': {
      if (x.rank !== 4 || op.channelsFirst) return [b.op('Reshape', [dy, b.int64(nchwShape(f.node(node.inputs[0]!).outputShape, 0))])];
      const [h, w, c] = f.node(node.inputs[0]!).outputShape;
      return [b.op('Transpose', [b.op('Reshape', [dy, b.int64([0, h!, w!, c!])])], { perm: [0, 3, 1, 2] })];
    }
    case 'reshape': {
      const nhwc = out.rank === 4 ? b.op('Transpose', [dy], { perm: [0, 2, 3, 1] }) : dy;
      const back = b.op('Reshape', [nhwc, b.int64([-1, ...f.node(node.inputs[0]!).outputShape])]);
      return [x.rank === 4 ? b.op('Transpose', [back], { perm: [0, 3, 1, 2] }) : back];
    }
    case 'elementwise':
      return elementwiseBackward(f, node, op, dy);
    case 'concat': {
      const axis = op.axis < 0 ? op.axis + out.rank : op.axis;
      const onnxAxis = out.rank === 4 ? [0, 2, 3, 1][axis]! : axis;
      const sizes = node.inputs.map((name) => f.node(name).outputShape[axis - 1]!);
      return b.opN('Split', [dy, b.int64(sizes)], { axis: onnxAxis }, sizes.length);
    }
    case 'pad': {
      const [h, w] = f.inputSize(node);
      const [[t], [l]] = op.pads;
      return [b.op('Slice', [dy, b.int64([t, l]), b.int64([t + h, l + w]), b.int64([2, 3])])];
    }
    case 'crop': {
      const [[t, bottom], [l, r]] = op.crop;
      return [b.op('Pad', [dy, b.int64([0, 0, t, l, 0, 0, bottom, r]), b.scalar(0)], { mode: 'constant' })];
    }
    case 'scale':
      return [b.op('Mul', [dy, b.scalar(op.scale)])];
  }
}

/**
 * A static NCHW shape for an NHWC (or flat) one, its batch `batch`: 0 (Reshape copies it) or 1 (Expand broadcasts it).
 * Static shapes let ONNX Runtime infer every backward tensor's shape when it builds the session, instead of
 * reading shapes at run time (its NCHWc layout only keeps an elementwise op between convolutions whose shapes it knows).
 */
function nchwShape(shape: number[], batch: 0 | 1): number[] {
  return [batch, ...(shape.length === 3 ? [shape[2]!, shape[0]!, shape[1]!] : shape)];
}

/** dy → d(pre-activation) from the pre-activation x and output y, under the ReLU rule for ReLU-family units. */
export function activationBackward(b: GraphBuilder, dy: string, x: string, y: string, spec: ActivationSpec, rule: ReluRule): string {
  const zero = b.scalar(0);
  const mask = (lo: number, hi?: number, of = x) => (hi === undefined
    ? b.op('Greater', [of, b.scalar(lo)])
    : b.op('And', [b.op('Greater', [of, b.scalar(lo)]), b.op('Less', [of, b.scalar(hi)])]));
  // ReLU-family masks read the output: y > 0 ⇔ x > 0 (and y < max ⇔ x < max), so a convolution's
  // pre-activation value is not kept and ONNX Runtime can fuse it with its activation. Built only where a rule
  // reads them (ONNX Runtime runs unused nodes too: deconvnet's masks were computed for nothing).
  const outMask = (lo: number, hi?: number) => mask(lo, hi, y);
  const family = (live: () => string, alpha = 0, max?: number): string => {
    if (rule === 'deconvnet') return alpha ? b.op('LeakyRelu', [dy], { alpha: { float: alpha } }) : b.op('Relu', [dy]);
    // Lucid redirects ReLU and clipped ReLUs only: a leaky ReLU's gradient never vanishes.
    if (rule === 'redirected' && !alpha) return redirectedBackward(b, dy, y, live(), max);
    const g = rule === 'guided' ? b.op('Relu', [dy]) : dy;
    // A float mask times dy: measured 2.6× faster than Where in ONNX Runtime (8×64×56×56: 15 vs 40 ms).
    let slope = b.op('Cast', [live()], { to: 1 });
    if (alpha) slope = b.op('Add', [b.op('Mul', [slope, b.scalar(1 - alpha)]), b.scalar(alpha)]);
    return b.op('Mul', [g, slope]);
  };
  const times = (t: string) => b.op('Mul', [dy, t]);
  switch (spec.kind) {
    case 'linear': return dy;
    case 'relu': return family(() => outMask(0));
    case 'relu6': return family(() => outMask(0, 6), 0, 6);
    case 'clippedrelu': return family(() => outMask(0, spec.max), 0, spec.max);
    case 'leakyrelu': return family(() => outMask(0), spec.alpha);
    case 'clip': return b.op('Where', [mask(spec.min, spec.max), dy, zero]);
    case 'sigmoid': return times(b.op('Mul', [y, b.op('Sub', [b.scalar(1), y])]));
    case 'tanh': return times(b.op('Sub', [b.scalar(1), b.op('Mul', [y, y])]));
    case 'elu': return b.op('Where', [mask(0), dy, times(b.op('Add', [y, b.scalar(1)]))]);
    case 'selu': {
      const lambda = 1.0507009873554805;
      const alpha = 1.6732632423543772;
      return b.op('Where', [mask(0), times(b.scalar(lambda)), times(b.op('Add', [y, b.scalar(lambda * alpha)]))]);
    }
    case 'softplus': return times(b.op('Sigmoid', [x]));
    case 'softsign': {
      const d = b.op('Add', [b.scalar(1), b.op('Abs', [x])]);
      return b.op('Div', [dy, b.op('Mul', [d, d])]);
    }
    case 'hardSigmoid': {
      const z = b.op('Add', [b.op('Mul', [x, b.scalar(spec.alpha)]), b.scalar(spec.beta)]);
      const inside = b.op('And', [b.op('Greater', [z, zero]), b.op('Less', [z, b.scalar(1)])]);
      return b.op('Where', [inside, times(b.scalar(spec.alpha)), zero]);
    }
    case 'hardSwish': {
      const mid = times(b.op('Add', [b.op('Mul', [x, b.scalar(1 / 3)]), b.scalar(0.5)]));
      return b.op('Where', [b.op('Less', [x, b.scalar(-3)]), zero, b.op('Where', [b.op('Greater', [x, b.scalar(3)]), dy, mid])]);
    }
    case 'swish': {
      const s = b.op('Sigmoid', [x]);
      return times(b.op('Add', [s, b.op('Mul', [b.op('Mul', [x, s]), b.op('Sub', [b.scalar(1), s])])]));
    }
    case 'softmax': {
      const dot = b.op('ReduceSum', [b.op('Mul', [dy, y]), b.int64([-1])], { keepdims: 1 });
      return b.op('Mul', [y, b.op('Sub', [dy, dot])]);
    }
    case 'mish': case 'gelu':
      throw new NotCompilable(`the gradient of the '${spec.kind}' activation`);
  }
}

/**
 * Lucid's redirected ReLU gradient (lucid/misc/redirected_relu_grad.py; TF.js: kernels/redirectedRelu.ts) from the
 * unit's output y and its live mask (0 < y < max): per batch element, the standard gradient dy·live when any of
 * it gets through; otherwise dy, zeroed where it would push a dead unit (y ≤ 0) down or a saturated one (y ≥ max) up.
 */
function redirectedBackward(b: GraphBuilder, dy: string, y: string, live: string, max?: number): string {
  const standard = b.op('Mul', [dy, b.op('Cast', [live], { to: 1 })]);
  const rows = (t: string) => b.op('Reshape', [t, b.int64([0, -1])]);
  // [N, 1]: does any standard gradient get through in this batch element?
  const passes = b.op('Greater', [b.op('ReduceMax', [b.op('Abs', [rows(standard)])], { axes: [1], keepdims: 1 }), b.scalar(0)]);
  let redirected = b.op('Where', [b.op('LessOrEqual', [y, b.scalar(0)]), b.op('Relu', [dy]), dy]);
  if (max !== undefined) redirected = b.op('Where', [b.op('GreaterOrEqual', [y, b.scalar(max)]), b.op('Min', [dy, b.scalar(0)]), redirected]);
  return b.op('Reshape', [b.op('Where', [passes, rows(standard), rows(redirected)]), b.op('Shape', [dy])]);
}

function convBackward(f: ForwardEmitter, node: IRNode, op: Extract<OpSpec, { op: 'conv' | 'separableConv' }>, dy: string): string {
  let d = dy;
  for (const part of [...f.convParts(node, op)].reverse()) d = partBackward(f, part, d);
  return d;
}

function partBackward(f: ForwardEmitter, part: ConvPart, dy: string): string {
  const b = f.b;
  const [h, w] = part.size;
  const effective = [(part.kh - 1) * part.dilations[0] + 1, (part.kw - 1) * part.dilations[1] + 1] as const;
  const [[pt, pb], [pl, pr]] = part.pads;
  const flippedPads = [effective[0] - 1 - pt, effective[1] - 1 - pl, effective[0] - 1 - pb, effective[1] - 1 - pr];
  const unitStride = part.strides[0] === 1 && part.strides[1] === 1;
  if (unitStride && flippedPads.every((p) => p >= 0) && (part.groups === 1 || part.depthwise)) {
    // Stride 1: the input gradient is a correlation with the flipped kernel, its in/out channels swapped.
    // TF.js [kh, kw, in, out] (depthwise [kh, kw, C, M]) → flipped [in, out, kh, kw] ([C, M, kh, kw] for a group-C conv).
    const kernel = f.weight(part.kernel, [2, 3, 0, 1], undefined, (k) => k.reverse([0, 1]), 'flipped');
    return b.op('Conv', [dy, kernel], {
      group: part.depthwise ? part.inChannels : 1, dilations: part.dilations, kernel_shape: [part.kh, part.kw], pads: flippedPads,
    });
  }
  if (part.depthwise && part.dilations[0] === 1 && part.dilations[1] === 1 && part.strides[0] === part.strides[1]) {
    const zeroFilled = depthwiseZeroFilled(f, part, dy);
    if (zeroFilled) return zeroFilled;
  }
  const outH = outSize(h, part.kh, part.strides[0], part.dilations[0], part.pads[0]);
  const outW = outSize(w, part.kw, part.strides[1], part.dilations[1], part.pads[1]);
  const phased = part.groups === 1 && !part.depthwise && part.strides[0] === part.strides[1] && part.dilations[0] === 1
    && part.dilations[1] === 1 && part.inChannels * part.strides[0] ** 2 <= 16 ? densePhases(f, part, dy, [outH, outW]) : undefined;
  if (phased) return phased;
  return convTranspose(b, dy, f.onnxKernel(part), { group: part.groups, strides: part.strides, dilations: part.dilations,
    kernel: [part.kh, part.kw], pads: [pt, pl, pb, pr], inputSize: [outH, outW], outputSize: [h, w] });
}

/**
 * ConvTranspose to an exact output size: output_padding where ONNX allows it (below the stride), else
 * zero rows and columns appended after (input positions no window reached get no gradient).
 */
function convTranspose(b: GraphBuilder, dy: string, kernel: string, a: { group: number; strides: [number, number];
  dilations: [number, number]; kernel: [number, number]; pads: number[]; inputSize: [number, number]; outputSize: [number, number] }): string {
  const natural = [0, 1].map((k) => (a.inputSize[k]! - 1) * a.strides[k]! + (a.kernel[k]! - 1) * a.dilations[k]! + 1 - a.pads[k]! - a.pads[k + 2]!);
  const missing = [0, 1].map((k) => a.outputSize[k]! - natural[k]!);
  if (missing.some((m) => m < 0)) throw new Error('internal: transposed convolution larger than its input');
  const inRange = missing.every((m, k) => m < a.strides[k]!);
  const y = b.op('ConvTranspose', [dy, kernel], {
    group: a.group, strides: a.strides, dilations: a.dilations, kernel_shape: a.kernel, pads: a.pads,
    output_padding: inRange ? missing : [0, 0],
  });
  return inRange || missing.every((m) => m === 0) ? y : b.op('Pad', [y, b.int64([0, 0, 0, 0, 0, 0, missing[0]!, missing[1]!]), b.scalar(0)], { mode: 'constant' });
}

function outSize(n: number, k: number, s: number, d: number, [p0, p1]: [number, number]): number {
  return Math.floor((n + p0 + p1 - ((k - 1) * d + 1)) / s) + 1;
}

/**
 * Depthwise input gradient at stride s: dy spread out with s − 1 zeros after each value (a 1×1 depthwise ConvTranspose
 * of ones), then correlated with the flipped kernel at stride 1. Faster than the alternatives measured on MobileNetV2's
 * whole gradient (batch 1 / 8): 21.6 / 160 ms, against 24.1 / 202 ms for stride phases interleaved by DepthToSpace (its
 * 6-D transpose costs more than the zeros' multiply-adds) and 26.7 / 190 ms for a 3×3 depthwise ConvTranspose.
 * Undefined (the caller uses ConvTranspose) where the correlation would need negative padding (pads beyond the kernel).
 */
function depthwiseZeroFilled(f: ForwardEmitter, part: ConvPart, dy: string): string | undefined {
  const s = part.strides[0];
  // Per axis: the correlation reads the spread dy (s·L long) padded by k − 1 − p₀ before; it is as long as the layer's
  // input n when padded by n + p₀ − s·L after. Where that is negative, the spread's last positions are never read
  // (output i reads up to position i + p₀): they are cut instead.
  const axes = [0, 1].map((a) => {
    const [k, n, [p0, p1]] = [a === 0 ? part.kh : part.kw, part.size[a]!, part.pads[a]!];
    const dyLength = outSize(n, k, s, 1, [p0, p1]);
    return { before: k - 1 - p0, after: n + p0 - s * dyLength, read: n + p0, spread: s * dyLength };
  });
  if (axes.some((a) => a.before < 0)) return undefined;
  const b = f.b;
  const channels = part.outChannels;
  let spread = b.op('ConvTranspose', [dy, b.scalar(1, [channels, 1, 1, 1])], {
    group: channels, strides: [s, s], kernel_shape: [1, 1], output_padding: [s - 1, s - 1],
  });
  if (axes.some((a) => a.after < 0)) {
    spread = b.op('Slice', [spread, b.int64([0, 0]), b.int64(axes.map((a) => Math.min(a.read, a.spread))), b.int64([2, 3])]);
  }
  const kernel = f.weight(part.kernel, [2, 3, 0, 1], undefined, (k) => k.reverse([0, 1]), 'flipped');
  const [rows, cols] = axes as [typeof axes[0], typeof axes[0]];
  return b.op('Conv', [spread, kernel], {
    group: part.inChannels, kernel_shape: [part.kh, part.kw], pads: [rows.before, cols.before, Math.max(0, rows.after), Math.max(0, cols.after)],
  });
}

/**
 * The input gradient of a strided convolution into few channels (a network's first layer, from 3 colour channels)
 * as one stride-1 convolution whose s²·C outputs are the gradient's stride phases, interleaved by DepthToSpace.
 * Input row s·a + φ receives W[k₀ + s·t]·dy[a + c − t], k₀ = (φ + pad) mod s, c = ⌊(φ + pad)/s⌋: each phase is a
 * correlation of dy with its taps, all phases one kernel. ONNX Runtime's ConvTranspose into 3 channels is slower:
 * ResNet18's 7×7 stride-2 stem, 3.2 → 3.0 ms at batch 1, 31.6 → 27.8 ms at batch 10 (its whole gradient −3%).
 * Undefined (the caller uses ConvTranspose) where the phases would need cropping before the correlation, or would
 * waste too many taps.
 */
function densePhases(f: ForwardEmitter, part: ConvPart, dy: string, out: [number, number]): string | undefined {
  const s = part.strides[0];
  const axes = [0, 1].map((a) => phaseAxis(part.size[a]!, a === 0 ? part.kh : part.kw, s, part.pads[a]![0], out[a]!));
  if (axes.some((a) => a.before < 0 || a.after < 0)) return undefined;
  const [rows, cols] = axes as [PhaseAxis, PhaseAxis];
  // Phases pad their taps to one kernel: MobileNetV2's 3×3 stem runs 4 taps a phase where 2.25 are used, slower
  // than ConvTranspose (measured +2%); ResNet's 7×7 stem runs 16 for 12.25 (−3%).
  if ((rows.taps * cols.taps * s * s) / (part.kh * part.kw) > 1.5) return undefined;
  const { inChannels: cin, outChannels: cout, kw } = part;
  const kernel = f.weight(part.kernel, undefined, undefined, (k) => {
    // TF.js [kh, kw, in, out] → [s²·in, out, rows.taps, cols.taps], phase (φr, φc) at channels (φr·s + φc)·in + c (DCR).
    const w = k.dataSync();
    const phased = new Float32Array(s * s * cin * cout * rows.taps * cols.taps);
    for (const [pr, r] of rows.phases.entries()) {
      for (const [pc, c] of cols.phases.entries()) {
        for (let tr = 0; tr < r.taps; tr++) {
          for (let tc = 0; tc < c.taps; tc++) {
            const [ky, kx] = [r.first + s * tr, c.first + s * tc];
            const [jr, jc] = [r.offset - tr - rows.lowest, c.offset - tc - cols.lowest];
            for (let ci = 0; ci < cin; ci++) {
              for (let co = 0; co < cout; co++) {
                phased[((((pr * s + pc) * cin + ci) * cout + co) * rows.taps + jr) * cols.taps + jc] = w[((ky * kw + kx) * cin + ci) * cout + co]!;
              }
            }
          }
        }
      }
    }
    return tf.tensor(phased, [s * s * cin, cout, rows.taps, cols.taps]);
  }, 'phases');
  const b = f.b;
  const conv = b.op('Conv', [dy, kernel], { kernel_shape: [rows.taps, cols.taps], pads: [rows.before, cols.before, rows.after, cols.after] });
  const full = b.op('DepthToSpace', [conv], { blocksize: s, mode: 'DCR' });
  const [h, w] = part.size;
  return rows.length * s === h && cols.length * s === w ? full : b.op('Slice', [full, b.int64([0, 0]), b.int64([h, w]), b.int64([2, 3])]);
}

interface PhaseAxis {
  /** Per phase φ: its first tap k₀, its number of taps, and c = ⌊(φ + pad)/s⌋ (tap k₀ reads dy[a + c]). */
  phases: { first: number; taps: number; offset: number }[];
  /** The lowest offset c − t read by any phase, the kernel's width, dy's padding, and phase rows computed. */
  lowest: number; taps: number; before: number; after: number; length: number;
}

function phaseAxis(size: number, kernel: number, s: number, pad: number, dyLength: number): PhaseAxis {
  const phases = Array.from({ length: s }, (_, phase) => {
    const first = (phase + pad) % s;
    return { first, taps: first < kernel ? Math.ceil((kernel - first) / s) : 0, offset: Math.floor((phase + pad) / s) };
  });
  const used = phases.filter((p) => p.taps > 0);
  const lowest = Math.min(...used.map((p) => p.offset - p.taps + 1));
  const highest = Math.max(...used.map((p) => p.offset));
  const length = Math.ceil(size / s);
  return { phases, lowest, taps: highest - lowest + 1, before: -lowest, after: length - dyLength + highest, length };
}

function maxPoolBackward(f: ForwardEmitter, node: IRNode, op: Extract<OpSpec, { op: 'pool' }>, x: Emitted, dy: string): string {
  const b = f.b;
  // The forward MaxPool again, with the argmax of each window (flat indices into the input).
  const [, indices] = b.opN('MaxPool', [x.out], poolAttrs(op, f.inputSize(node)).onnx, 2);
  const flat = b.op('Reshape', [x.out, b.int64([-1])]);
  const zeros = b.op('ConstantOfShape', [b.op('Shape', [flat])]);
  const scattered = b.op('ScatterElements', [zeros, b.op('Reshape', [indices!, b.int64([-1])]), b.op('Reshape', [dy, b.int64([-1])])],
    { axis: 0, reduction: 'add' });
  return b.op('Reshape', [scattered, b.op('Shape', [x.out])]);
}

function avgPoolBackward(f: ForwardEmitter, node: IRNode, op: Extract<OpSpec, { op: 'pool' }>, dy: string): string {
  const b = f.b;
  const [h, w] = f.inputSize(node);
  const { pads, extra } = poolAttrs(op, [h, w]);
  const [oh, ow] = [node.outputShape[0]!, node.outputShape[1]!];
  const channels = node.outputShape[2]!;
  // How many elements each window averaged (the divisor), then each element gets its windows' shares.
  const counts = new Float32Array(oh * ow);
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      const span = (o: number, s: number, k: number, n: number, [p0, p1]: [number, number]) => {
        const lo = o * s - p0;
        const hi = lo + k;
        return op.countIncludePad ? Math.min(hi, n + p1) - Math.max(lo, -p0) : Math.min(hi, n) - Math.max(lo, 0);
      };
      counts[i * ow + j] = span(i, op.strides[0], op.size[0], h, pads[0]) * span(j, op.strides[1], op.size[1], w, pads[1]);
    }
  }
  const shares = b.op('Div', [dy, b.floats('avgpool.counts', [1, 1, oh, ow], counts)]);
  const ones = b.floats('avgpool.ones', [channels, 1, op.size[0], op.size[1]], new Float32Array(channels * op.size[0] * op.size[1]).fill(1));
  const [[pt, pb], [pl, pr]] = pads;
  return convTranspose(b, shares, ones, { group: channels, strides: op.strides, dilations: [1, 1], kernel: op.size,
    pads: [pt, pl, pb + extra[0], pr + extra[1]], inputSize: [oh, ow], outputSize: [h, w] });
}

function elementwiseBackward(f: ForwardEmitter, node: IRNode, op: Extract<OpSpec, { op: 'elementwise' }>, dy: string): (string | undefined)[] {
  const b = f.b;
  const out = f.values.get(node.name)!;
  const values = op.operands.map((o) => ('input' in o ? f.input(node, o.input).out : f.constant(o.weight, out.rank)));
  const grads: (string | undefined)[] = node.inputs.map(() => undefined);
  op.operands.forEach((o, i) => {
    if (!('input' in o)) return;
    let g: string;
    switch (op.fn) {
      case 'add': g = dy; break;
      case 'sub': g = i === 0 ? dy : b.op('Neg', [dy]); break;
      case 'mean': g = b.op('Div', [dy, b.scalar(values.length)]); break;
      case 'mul': g = values.reduce((p, v, j) => (j === i ? p : b.op('Mul', [p, v])), dy); break;
      case 'div': g = i === 0 ? b.op('Div', [dy, values[1]!])
        : b.op('Neg', [b.op('Div', [b.op('Mul', [dy, values[0]!]), b.op('Mul', [values[1]!, values[1]!])])]); break;
      case 'max': case 'min': {
        if (values.length !== 2) throw new NotCompilable(`'${node.name}': ${op.fn} of ${values.length} tensors`);
        // TF.js's rule: ties go to the first operand.
        const [p, q] = values as [string, string];
        const first = op.fn === 'max' ? b.op('GreaterOrEqual', [p, q]) : b.op('LessOrEqual', [p, q]);
        g = b.op('Where', [first, i === 0 ? dy : b.scalar(0), i === 0 ? b.scalar(0) : dy]);
        break;
      }
    }
    const reduced = reduceTo(b, g, f.node(node.inputs[o.input]!).outputShape, node.outputShape, out.rank);
    const previous = grads[o.input];
    grads[o.input] = previous ? b.op('Add', [previous, reduced]) : reduced;
  });
  return grads;
}

/** Sums a gradient over the axes an operand was broadcast along (NCHW axes of an NHWC shape). */
function reduceTo(b: GraphBuilder, g: string, operand: number[], output: number[], rank: number): string {
  const toNchw = (s: number[]) => (rank === 4 ? [s[2]!, s[0]!, s[1]!] : s);
  const [o, y] = [toNchw(operand), toNchw(output)];
  const axes = y.flatMap((d, k) => (o[k] === 1 && d !== 1 ? [k + 1] : []));
  return axes.length ? b.op('ReduceSum', [g, b.int64(axes)], { keepdims: 1 }) : g;
}
