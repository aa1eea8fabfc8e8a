import * as tf from '@tensorflow/tfjs';
import { saveLayersModel } from '../src/engine/io/saveLayersModel';

export interface MobileNetV2Options {
  /** Input side in pixels (square RGB input). Default 224. */
  inputSize?: number;
  /** Number of output classes. Default 1000. */
  classes?: number;
  /** Seed for the kernel initializers, so two builds have the same weights. Default 1. */
  seed?: number;
}

/** Inverted-residual settings of MobileNetV2 (Sandler et al. 2018, table 2), width 1.0: t, c, n, s. */
const BLOCK_SETTINGS: ReadonlyArray<[number, number, number, number]> = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/**
 * MobileNetV2 (width 1.0) with random, seeded weights: the architecture Loupe's performance
 * targets are stated against. No pretrained weights can be fetched here, so only the cost
 * (not the predictions) of this model is meaningful.
 */
export function buildMobileNetV2(options: MobileNetV2Options = {}): tf.LayersModel {
  const inputSize = options.inputSize ?? 224;
  const classes = options.classes ?? 1000;
  let seed = options.seed ?? 1;
  // Each layer gets its own seed: one shared seed would give every same-shaped kernel equal weights.
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });

  const conv = (x: tf.SymbolicTensor, filters: number, kernel: number, strides: number, name: string) =>
    tf.layers.conv2d({
      filters, kernelSize: kernel, strides, padding: 'same', useBias: false,
      kernelInitializer: init(), name,
    }).apply(x) as tf.SymbolicTensor;
  const depthwise = (x: tf.SymbolicTensor, strides: number, name: string) =>
    tf.layers.depthwiseConv2d({
      kernelSize: 3, strides, padding: 'same', useBias: false,
      depthwiseInitializer: init(), name,
    }).apply(x) as tf.SymbolicTensor;
  const bn = (x: tf.SymbolicTensor, name: string) =>
    tf.layers.batchNormalization({ epsilon: 1e-3, momentum: 0.999, name }).apply(x) as tf.SymbolicTensor;
  const relu6 = (x: tf.SymbolicTensor, name: string) =>
    tf.layers.reLU({ maxValue: 6, name }).apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input' });
  let x = conv(input, 32, 3, 2, 'stem_conv');
  x = relu6(bn(x, 'stem_bn'), 'stem_relu');

  let channels = 32;
  let block = 0;
  for (const [expansion, outChannels, repeats, firstStride] of BLOCK_SETTINGS) {
    for (let r = 0; r < repeats; r++) {
      const stride = r === 0 ? firstStride : 1;
      const p = `block_${block}`;
      const shortcut = x;
      let h = x;
      if (expansion !== 1) {
        h = conv(h, channels * expansion, 1, 1, `${p}_expand`);
        h = relu6(bn(h, `${p}_expand_bn`), `${p}_expand_relu`);
      }
      h = depthwise(h, stride, `${p}_depthwise`);
      h = relu6(bn(h, `${p}_depthwise_bn`), `${p}_depthwise_relu`);
      h = conv(h, outChannels, 1, 1, `${p}_project`);
      h = bn(h, `${p}_project_bn`);
      if (stride === 1 && channels === outChannels) {
        h = tf.layers.add({ name: `${p}_add` }).apply([shortcut, h]) as tf.SymbolicTensor;
      }
      x = h;
      channels = outChannels;
      block++;
    }
  }

  x = conv(x, 1280, 1, 1, 'head_conv');
  x = relu6(bn(x, 'head_bn'), 'head_relu');
  x = tf.layers.globalAveragePooling2d({ name: 'global_pool' }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers.dense({
    units: classes, activation: 'softmax', kernelInitializer: init(), name: 'predictions',
  }).apply(x) as tf.SymbolicTensor;

  return tf.model({ inputs: input, outputs: output, name: 'mobilenetv2' });
}

/** Builds MobileNetV2 and saves it as `dir/model.json` + `dir/weights.bin`; returns the model.json path. */
export async function saveMobileNetV2(dir: string, options: MobileNetV2Options = {}): Promise<string> {
  const model = buildMobileNetV2(options);
  try {
    await saveLayersModel(model, dir);
  } finally {
    model.dispose();
  }
  return `${dir.replace(/\/+$/, '')}/model.json`;
}
