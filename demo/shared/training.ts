import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveLayersModel } from '../../src/engine/io/saveLayersModel';
import { initBackend } from '../../src/engine/backend';

/**
 * Training runs on wasm with the gradient kernels Loupe's engine registers (the cpu backend needs
 * seconds per image for these networks).
 */
export async function useWasmForTraining(): Promise<void> {
  await initBackend('wasm');
  console.log(`training on the ${tf.getBackend()} backend`);
}

/**
 * Sets every batch-norm layer's moving mean and variance to the exact statistics of its input over
 * `xs`, layer by layer in order. Why: the moving averages lag far behind the batch statistics after a
 * short training run, and inference (which uses them) then scored at chance while training-mode
 * accuracy was 47 % (measured on the shapes model after 140 steps).
 */
export function recalibrateBatchNorm(model: tf.LayersModel, xs: tf.Tensor4D): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const probe = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
    const activations = probe.predict(xs, { batchSize: 64 }) as tf.Tensor;
    const { mean, variance } = tf.moments(activations, [0, 1, 2]);
    const weights = layer.getWeights();
    layer.setWeights([...weights.slice(0, weights.length - 2), mean, variance]);
    activations.dispose();
  }
}

/** Saves a trained demo model with its labels.txt and loupe.json sidecar (how Loupe preprocesses its images). */
export async function saveDemoModel(model: tf.LayersModel, dir: string, labels: readonly string[], input: object): Promise<void> {
  await saveLayersModel(model, dir);
  fs.writeFileSync(path.join(dir, 'labels.txt'), labels.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'loupe.json'), JSON.stringify({ input, labels: 'labels.txt' }, null, 2) + '\n');
  console.log(`saved to ${dir}`);
}
