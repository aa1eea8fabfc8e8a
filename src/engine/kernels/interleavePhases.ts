import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { LoupeError } from '../../protocol/errors';
import { heapOffset, heapSimd } from './heapSimd';
import { float32View, requireDtype, requireRank4, requireShape } from './wasmKernelUtil';

/** Loupe's own kernel: not a tfjs op, so no other backend or model graph ever names it. */
export const INTERLEAVE_PHASES = 'LoupeInterleavePhases';

export interface InterleavePhasesAttrs {
  stride: number;
  height: number;
  width: number;
}

/**
 * out[b, i·s + a, j·s + c, :] = phases[a·s + c][b, i, j, :] for an [B, height, width, C] output, where
 * phase (a, c) has shape [B, ⌈(height − a)/s⌉, ⌈(width − c)/s⌉, C]: the s² phases of a stride-s input
 * gradient written straight into place. Why: on wasm, concat along channels, the 6-D transpose and the
 * crop that do this with tfjs ops cost 17 ms for MobileNetV2's 224×224×3 stem alone.
 */
function interleavePhases(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { stride: s, height: H, width: W } = args.attrs as unknown as InterleavePhasesAttrs;
  const phases = Object.keys(args.inputs).sort((p, q) => Number(p) - Number(q)).map((k) => args.inputs[k]!);
  if (phases.length !== s * s) {
    throw new LoupeError('BACKEND', `the wasm kernel ${INTERLEAVE_PHASES} needs ${s * s} phases for stride ${s}, got ${phases.length}`);
  }
  requireRank4(INTERLEAVE_PHASES, phases[0]!.shape, 'phase');
  const [B, , , C] = phases[0]!.shape as [number, number, number, number];
  phases.forEach((p, k) => {
    requireDtype(INTERLEAVE_PHASES, p, `phase ${k}`);
    const a = Math.floor(k / s);
    const c = k % s;
    requireShape(INTERLEAVE_PHASES, p.shape, [B, Math.ceil((H - a) / s), Math.ceil((W - c) / s), C], `phase ${k}`);
  });
  const out = backend.makeOutput([B, H, W, C], 'float32');
  const simd = heapSimd(backend);
  for (let k = 0; k < phases.length; k++) {
    const a = Math.floor(k / s);
    const c = k % s;
    const [, ph, pw] = phases[k]!.shape as [number, number, number, number];
    if (simd) {
      const src = heapOffset(backend, phases[k]!);
      const dst = heapOffset(backend, out);
      for (let b = 0; b < B; b++) {
        simd.copy2d(src + b * ph * pw * C * 4, dst + ((b * H + a) * W + c) * C * 4, ph, pw, C * 4, s * W * C * 4, s * C * 4);
      }
      continue;
    }
    const o = float32View(backend, out);
    const p = float32View(backend, phases[k]!);
    let from = 0;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < ph; i++) {
        let to = ((b * H + i * s + a) * W + c) * C;
        for (let j = 0; j < pw; j++) {
          o.set(p.subarray(from, from + C), to);
          from += C;
          to += s * C;
        }
      }
    }
  }
  return out;
}

export const interleavePhasesConfig: tf.KernelConfig = {
  kernelName: INTERLEAVE_PHASES,
  backendName: 'wasm',
  kernelFunc: interleavePhases as unknown as tf.KernelFunc,
};
