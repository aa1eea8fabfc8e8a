/**
 * Parameters → model input and back: the image parameterisation S (spectrum → image, TF.js autodiff through the
 * FFT op's custom gradient), the step's transforms T (explicit transposes) and the model's preprocessing A
 * (a per-channel affine map). The backward is the vector-Jacobian product Sᵀ Tᵀ Aᵀ g of the model's input
 * gradient g, seeded into S by TF.js autodiff, so the model's passes and the parameterisation stay separate.
 */
import * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from '../../protocol/types';
import { affine } from '../image/preprocess';
import { applyTransforms, releaseTransforms, transposeTransforms, type TransformStage } from './transforms';

/** Images in [0, 1] → the model's input: x = order(img) · s + o per channel (Loupe's preprocessing). */
export interface InputMap {
  scale: Float32Array;
  offset: Float32Array;
  bgr: boolean;
}

export function inputMap(pre: Preprocessing, channels: number): InputMap {
  const { scale, offset } = affine(pre, channels);
  // affine() maps 0..255 pixel values; the images here are in [0, 1].
  return { scale: Float32Array.from(scale, (v) => v * 255), offset: Float32Array.from(offset), bgr: pre.channels === 'bgr' };
}

function applyInputMap(img: tf.Tensor4D, m: InputMap): tf.Tensor4D {
  const x = m.bgr ? tf.reverse(img, 3) : img;
  return tf.add(tf.mul(x, tf.tensor1d(m.scale)), tf.tensor1d(m.offset)) as tf.Tensor4D;
}

/** A source of images (a FourierImage, or the activation grid's shared parameterisation). */
export type ImageFunction = (theta: tf.Tensor) => tf.Tensor4D;

/** The model input for parameters `theta`, as plain values. */
export function modelInput(image: ImageFunction, theta: Float32Array, stages: readonly TransformStage[], m: InputMap): Float32Array {
  const t = tf.tidy(() => applyInputMap(applyTransforms(image(tf.tensor1d(theta)), stages), m));
  const values = Float32Array.from(t.dataSync());
  t.dispose();
  return values;
}

/** d⟨modelInput(θ), g⟩/dθ for the model's input gradient g [B, H, W, C]; releases the stages' tables. */
export function parameterGradient(image: ImageFunction, theta: Float32Array, stages: readonly TransformStage[], m: InputMap,
  g: Float32Array, shape: [number, number, number, number]): Float32Array {
  const t = tf.tidy(() => {
    let dImg = tf.mul(tf.tensor4d(g, shape), tf.tensor1d(m.scale)) as tf.Tensor4D;
    if (m.bgr) dImg = tf.reverse(dImg, 3);
    const seed = transposeTransforms(dImg, stages);
    return tf.grad((p: tf.Tensor) => tf.sum(tf.mul(image(p), seed)))(tf.tensor1d(theta));
  });
  const values = Float32Array.from(t.dataSync());
  t.dispose();
  // The step is over: its tables are not used again.
  releaseTransforms(stages);
  return values;
}
