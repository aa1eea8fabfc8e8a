import * as tf from '@tensorflow/tfjs';

type OneInput<T extends tf.Tensor> = (x: tf.Tensor, save: tf.GradSaveFunc) => {
  value: T;
  gradFunc: (dy: T, saved: tf.Tensor[]) => tf.Tensor;
};

/** tf.customGrad for the one-input case, typed. */
export function customGrad1<T extends tf.Tensor>(f: OneInput<T>): (x: tf.Tensor) => T {
  const wrapped = (...args: Array<tf.Tensor | tf.GradSaveFunc>) => f(args[0] as tf.Tensor, args[1] as tf.GradSaveFunc);
  return tf.customGrad(wrapped) as (x: tf.Tensor) => T;
}
