import * as tf from '@tensorflow/tfjs';

/** Bilinear upsampling of an [h, w] map to [H, W] with half-pixel centres (as cv2 / PIL do). */
export function upsample(map: tf.Tensor2D, height: number, width: number): tf.Tensor2D {
  return tf.tidy(() => tf.image.resizeBilinear(map.expandDims(-1) as tf.Tensor3D, [height, width], false, true).squeeze([2]) as tf.Tensor2D);
}
