/**
 * Trains the "shapes" demo classifier and saves it to demo/shapes/model/.
 * Run: npx tsx demo/shapes/train.ts
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { recalibrateBatchNorm, saveDemoModel, useWasmForTraining } from '../shared/training';
import { generateShapes, toModelInput } from './dataset';

const SIZE = 64;
const TRAIN_COUNT = Number(process.env.N ?? 6000);
const VAL_COUNT = 600;
const EPOCHS = Number(process.env.EPOCHS ?? 5);
const OUT_DIR = process.env.OUT_DIR ?? path.join(__dirname, 'model');

function buildModel(numClasses: number): tf.LayersModel {
  const image = tf.input({ shape: [SIZE, SIZE, 3], name: 'image' });
  // conv → batch norm → ReLU blocks (without batch norm this network sat at chance level for epochs).
  // Two poolings only: the last feature map stays 16×16 (a 4-px grid), fine enough for Grad-CAM's
  // peak to land on objects that cover ~8 % of the image; with a third pooling (8×8 map) it fell just
  // outside the object in 13 % of held-out scenes. With 3×3 convs alone at 16×16 (receptive field
  // 34 px) the peak sat on the corners of triangles and squares, outside them (72 %): the last units
  // must see whole objects (18-36 px) from their centre. So the top three blocks are separable convs
  // (5×5 depthwise, then 1×1): receptive field 66 px for fewer multiply-adds than one 3×3 conv.
  // (Not dilated convs: tfjs has no gradient for them, so they cannot be trained.)
  const conv1 = tf.layers.conv2d({ name: 'conv1', filters: 16, kernelSize: 3, padding: 'same', useBias: false });
  const bn1 = tf.layers.batchNormalization({ name: 'bn1', momentum: 0.9 });
  const relu1 = tf.layers.reLU({ name: 'relu1' });
  const pool1 = tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 });
  const conv2 = tf.layers.conv2d({ name: 'conv2', filters: 32, kernelSize: 3, padding: 'same', useBias: false });
  const bn2 = tf.layers.batchNormalization({ name: 'bn2', momentum: 0.9 });
  const relu2 = tf.layers.reLU({ name: 'relu2' });
  const pool2 = tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 });
  const conv3 = tf.layers.conv2d({ name: 'conv3', filters: 48, kernelSize: 3, padding: 'same', useBias: false });
  const bn3 = tf.layers.batchNormalization({ name: 'bn3', momentum: 0.9 });
  const relu3 = tf.layers.reLU({ name: 'relu3' });
  const dw4 = tf.layers.depthwiseConv2d({ name: 'dw4', kernelSize: 5, padding: 'same', useBias: false });
  const conv4 = tf.layers.conv2d({ name: 'conv4', filters: 64, kernelSize: 1, useBias: false });
  const bn4 = tf.layers.batchNormalization({ name: 'bn4', momentum: 0.9 });
  const relu4 = tf.layers.reLU({ name: 'relu4' });
  const dw5 = tf.layers.depthwiseConv2d({ name: 'dw5', kernelSize: 5, padding: 'same', useBias: false });
  const conv5 = tf.layers.conv2d({ name: 'conv5', filters: 64, kernelSize: 1, useBias: false });
  const bn5 = tf.layers.batchNormalization({ name: 'bn5', momentum: 0.9 });
  const relu5 = tf.layers.reLU({ name: 'relu5' });
  const dw6 = tf.layers.depthwiseConv2d({ name: 'dw6', kernelSize: 5, padding: 'same', useBias: false });
  const conv6 = tf.layers.conv2d({ name: 'conv6', filters: 64, kernelSize: 1, useBias: false });
  const bn6 = tf.layers.batchNormalization({ name: 'bn6', momentum: 0.9 });
  const relu6 = tf.layers.reLU({ name: 'relu6' });
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' });
  const logits = tf.layers.dense({ name: 'logits', units: numClasses, activation: 'softmax' });

  const layers = [conv1, bn1, relu1, pool1, conv2, bn2, relu2, pool2, conv3, bn3, relu3, dw4, conv4, bn4, relu4,
    dw5, conv5, bn5, relu5, dw6, conv6, bn6, relu6, gap, logits];
  const output = layers.reduce((x: tf.SymbolicTensor, layer) => layer.apply(x) as tf.SymbolicTensor, image);
  return tf.model({ inputs: image, outputs: output, name: 'shapes_cnn' });
}

function toTensors(data: ReturnType<typeof generateShapes>): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const xs = tf.tensor4d(toModelInput(data.images, SIZE), [data.images.length, SIZE, SIZE, 3]);
  const ys = tf.oneHot(tf.tensor1d(data.labels, 'int32'), data.classes.length) as tf.Tensor2D;
  return { xs, ys };
}

async function main(): Promise<void> {
  // wasm + the gradient kernels it lacks: the cpu backend needs hours for this model.
  await useWasmForTraining();
  const t0 = Date.now();
  const train = generateShapes({ count: TRAIN_COUNT, seed: 1, size: SIZE });
  const val = generateShapes({ count: VAL_COUNT, seed: 2, size: SIZE });
  const { xs, ys } = toTensors(train);
  const { xs: valXs, ys: valYs } = toTensors(val);

  const model = buildModel(train.classes.length);
  model.summary();
  model.compile({ optimizer: tf.train.adam(Number(process.env.LR ?? 2e-3)), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  await model.fit(xs, ys, {
    epochs: EPOCHS,
    batchSize: 32,
    shuffle: true,
    validationData: [valXs, valYs],
    callbacks: {
      onEpochEnd: async (epoch, logs) => {
        console.log(`epoch ${epoch + 1}/${EPOCHS}: loss ${logs?.loss?.toFixed(4)} acc ${logs?.acc?.toFixed(4)} ` +
          `val_acc ${logs?.val_acc?.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      },
    },
  });

  recalibrateBatchNorm(model, xs.slice([0, 0, 0, 0], [Math.min(1000, TRAIN_COUNT), -1, -1, -1]));
  const predicted = (model.predict(valXs) as tf.Tensor2D).argMax(-1);
  const accuracy = predicted.equal(valYs.argMax(-1)).mean().dataSync()[0]!;
  console.log(`validation accuracy (seed 2, ${VAL_COUNT} images): ${(accuracy * 100).toFixed(2)} %`);
  console.log(`training time: ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  await saveDemoModel(model, OUT_DIR, train.classes, { range: [-1, 1], mean: [0, 0, 0], std: [1, 1, 1], channels: 'rgb' });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
