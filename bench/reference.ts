/**
 * So that a wrong fast number cannot pass: every timed model's logits and input gradient at a fixed input
 * are compared with numbers Loupe did not compute — PyTorch's own (the models it exported), ONNX Runtime
 * running the bench-built ONNX file as it stands (not Loupe's translation of it), or, for the TF.js model,
 * the wasm engine (the reference the ONNX Runtime passes are tested against), measured in its own child.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { decodeNpy, encodeNpy } from '../src/engine/output/npy';
import { mulberry32 } from '../src/engine/random';
import type { LoadedModel } from '../src/engine/model/loader';
import type { OrtModule } from '../src/engine/backends/onnxruntime/ortPasses';

/** Relative L2 error a check passes at. */
export const CHECK_TOLERANCE = 1e-4;

export interface ReferenceSpec {
  /** [1, C, H, W] float32 .npy: the input every figure below is taken at. */
  input: string;
  /** Who computed the reference figures. */
  source: string;
  /** [1, K] logits and [1, C, H, W] d logit[t] / d input (t = the logits' argmax); absent = write them there. */
  logits: string;
  gradient?: string;
  /** Relative error the gradient passes at (default CHECK_TOLERANCE), and why when another. */
  gradientTolerance?: { value: number; why: string };
  /** When true, the child writes its own logits and gradient to `logits` / `gradient` (it is the reference). */
  produce?: boolean;
}

export interface CheckResult {
  source: string;
  target: number;
  logitsRelError: number;
  gradientRelError?: number;
  gradientTolerance?: { value: number; why: string };
  pass: boolean;
  /** This run wrote the reference (its own figures are not checked). */
  produced?: boolean;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** A seeded [1, 3, size, size] input: uniform pixels normalised as torchvision does (NCHW). */
export function writeSeededInput(file: string, size: number, seed: number): void {
  const rand = mulberry32(seed);
  const plane = size * size;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / plane);
    data[i] = (rand() - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
  }
  fs.writeFileSync(file, encodeNpy(data, [1, 3, size, size]));
}

/** ONNX Runtime's logits for the file as written (its own graph, not Loupe's translation), saved as .npy. */
export async function writeOrtLogits(ort: OrtModule, onnxFile: string, inputFile: string, logitsFile: string): Promise<void> {
  const { data, shape } = decodeNpy(fs.readFileSync(inputFile));
  const session = await ort.InferenceSession.create(onnxFile, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, shape) });
    const logits = out[session.outputNames[0]!]!;
    fs.writeFileSync(logitsFile, encodeNpy(logits.data as Float32Array, logits.dims as number[]));
  } finally {
    await session.release();
  }
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    num += (actual[i]! - expected[i]!) ** 2;
    den += expected[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** The model's logits and input gradient at the reference input, compared with the reference (or written as it). */
export async function checkReference(model: LoadedModel, ref: ReferenceSpec): Promise<CheckResult> {
  const input = decodeNpy(fs.readFileSync(ref.input));
  const x = tf.tidy(() => tf.tensor4d(input.data, input.shape as [number, number, number, number]).transpose([0, 2, 3, 1]) as tf.Tensor4D);
  try {
    const [out] = await model.passes.forward(x, [model.graph.logitsName]);
    const logits = out!.dataSync() as Float32Array;
    out!.dispose();
    const expected = ref.produce ? undefined : decodeNpy(fs.readFileSync(ref.logits)).data;
    const target = argmax(expected ?? logits);
    const g = await model.passes.inputGradient(x, { classIndex: target, kind: 'logit' }, 'standard');
    const gradient = tf.tidy(() => g.transpose([0, 3, 1, 2]).dataSync() as Float32Array);
    g.dispose();
    if (ref.produce) {
      fs.writeFileSync(ref.logits, encodeNpy(logits, [1, logits.length]));
      if (ref.gradient) fs.writeFileSync(ref.gradient, encodeNpy(gradient, input.shape));
      return { source: ref.source, target, logitsRelError: 0, pass: true, produced: true };
    }
    const logitsRelError = relativeError(logits, expected!);
    const gradientRelError = ref.gradient ? relativeError(gradient, decodeNpy(fs.readFileSync(ref.gradient)).data) : undefined;
    const tolerance = ref.gradientTolerance?.value ?? CHECK_TOLERANCE;
    const pass = logitsRelError <= CHECK_TOLERANCE && (gradientRelError === undefined || gradientRelError <= tolerance);
    return {
      source: ref.source, target, logitsRelError,
      ...(gradientRelError !== undefined ? { gradientRelError } : {}),
      ...(ref.gradientTolerance ? { gradientTolerance: ref.gradientTolerance } : {}),
      pass,
    };
  } finally {
    x.dispose();
  }
}
