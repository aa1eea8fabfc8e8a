import * as tf from '@tensorflow/tfjs';
import { rng, saveModel } from './models';

export const PLANTED_SIZE = 112;
/** Units of the layer 'detectors': what each was built to detect. */
export const PLANTED_UNITS = { red: 0, horizontalStripes: 1, random: 2 } as const;

/**
 * A hand-built network whose units are known detectors, for network dissection:
 *   features (3×3, ReLU): redness R − G − B − 0.45, and the four signed luminance derivatives
 *     (∂/∂y up, ∂/∂y down, ∂/∂x right, ∂/∂x left);
 *   pool (4×4 average) → 28×28;
 *   detectors (3×3, ReLU): unit 0 = redness averaged over the window; unit 1 = energy of horizontal edges − 1.5 × energy of
 *     vertical edges (high only where stripes run horizontally); unit 2 = random weights.
 * Input range [0, 1] (no sidecar: Loupe's defaults). `logitWeights` ([unit][class], row-major) read the detectors' averages.
 */
export async function savePlantedModel(seed = 7, logitWeights: readonly number[] = [1, -1, 0.5, -0.5, 0.2, 0.1]): Promise<string> {
  const input = tf.input({ shape: [PLANTED_SIZE, PLANTED_SIZE, 3], name: 'image' });
  const features = tf.layers.conv2d({ name: 'features', filters: 5, kernelSize: 3, padding: 'same', activation: 'relu' });
  const pool = tf.layers.averagePooling2d({ name: 'pool', poolSize: 4 });
  const detectors = tf.layers.conv2d({ name: 'detectors', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' });
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' });
  const logits = tf.layers.dense({ name: 'logits', units: 2 });
  const out = [features, pool, detectors, gap, logits].reduce((x: tf.SymbolicTensor, l) => l.apply(x) as tf.SymbolicTensor, input);
  const model = tf.model({ inputs: input, outputs: out, name: 'planted' });

  // features kernel [3, 3, 3, 5]: index (ky, kx, channel, filter).
  const k1 = new Float32Array(3 * 3 * 3 * 5);
  const set1 = (ky: number, kx: number, c: number, f: number, v: number) => { k1[((ky * 3 + kx) * 3 + c) * 5 + f] = v; };
  set1(1, 1, 0, 0, 1);
  set1(1, 1, 1, 0, -1);
  set1(1, 1, 2, 0, -1);
  for (let t = 0; t < 3; t++) {
    for (let c = 0; c < 3; c++) {
      set1(2, t, c, 1, 1 / 9); set1(0, t, c, 1, -1 / 9); // luminance increases downwards
      set1(0, t, c, 2, 1 / 9); set1(2, t, c, 2, -1 / 9); // … upwards
      set1(t, 2, c, 3, 1 / 9); set1(t, 0, c, 3, -1 / 9); // … to the right
      set1(t, 0, c, 4, 1 / 9); set1(t, 2, c, 4, -1 / 9); // … to the left
    }
  }
  const b1 = Float32Array.of(-0.45, 0, 0, 0, 0);

  // detectors kernel [3, 3, 5, 3].
  const k2 = new Float32Array(3 * 3 * 5 * 3);
  const set2 = (ky: number, kx: number, c: number, f: number, v: number) => { k2[((ky * 3 + kx) * 5 + c) * 3 + f] = v; };
  for (let ky = 0; ky < 3; ky++) {
    for (let kx = 0; kx < 3; kx++) {
      set2(ky, kx, 0, 0, 1 / 9);
      set2(ky, kx, 1, 1, 1); set2(ky, kx, 2, 1, 1);
      set2(ky, kx, 3, 1, -1.5); set2(ky, kx, 4, 1, -1.5);
    }
  }
  const r = rng(seed);
  for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let c = 0; c < 5; c++) set2(ky, kx, c, 2, (r() - 0.5) * 2);
  const b2 = new Float32Array(3);

  model.setWeights([
    tf.tensor4d(k1, [3, 3, 3, 5]), tf.tensor1d(b1),
    tf.tensor4d(k2, [3, 3, 5, 3]), tf.tensor1d(b2),
    tf.tensor2d(Float32Array.from(logitWeights), [3, 2]), tf.tensor1d([0, 0]),
  ]);
  const file = await saveModel(model);
  model.dispose();
  return file;
}
