/**
 * Every call into the model that feature visualisation and the Building Blocks make, in one place, as
 * async functions of plain arrays. Forward passes and input gradients run on the model's passes (ONNX Runtime
 * when the engine has it, else TF.js); gradients from given activations of a layer (`feeds`) run on Loupe's
 * executor, which alone can start a graph part-way. Arrays are NHWC, batch first.
 */
import * as tf from '@tensorflow/tfjs';
import { gradients } from '../model/executor';
import type { LoadedModel } from '../model/loader';
import type { ReluRule } from '../model/ir';

/** A backward pass's seed, from the activations it is computed at (sync: it runs between forward and backward). */
export type SeedFunction = (activations: Float32Array) => Float32Array;

export interface GradientResult {
  /** Activations of the seeded layer. */
  activations: Float32Array;
  gradient: Float32Array;
}

function readArray(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

function readAndDispose(t: tf.Tensor): Float32Array {
  const values = readArray(t);
  t.dispose();
  return values;
}

function seedTensor(seed: SeedFunction, output: tf.Tensor): tf.Tensor {
  const s = seed(output.dataSync() as Float32Array);
  if (s.length !== output.size) throw new Error(`internal: seed of ${s.length} values for an output of ${output.size}`);
  return tf.tensor(s, output.shape);
}

export class ModelPasses {
  constructor(readonly model: LoadedModel) {}

  private inputTensor(input: Float32Array, batch: number): tf.Tensor4D {
    const [h, w, c] = this.model.graph.inputShape;
    if (input.length !== batch * h * w * c) throw new Error(`internal: ${input.length} input values for ${batch} × ${h}×${w}×${c}`);
    return tf.tensor4d(input, [batch, h, w, c]);
  }

  private layerTensor(layer: string, values: Float32Array, batch: number): tf.Tensor {
    const node = this.model.graph.nodes.find((n) => n.name === layer);
    if (!node) throw new Error(`internal: unknown layer '${layer}'`);
    return tf.tensor(values, [batch, ...node.outputShape]);
  }

  /** Activations of `layers` for a batch of model inputs. */
  async activations(layers: string[], input: Float32Array, batch: number): Promise<Float32Array[]> {
    const x = this.inputTensor(input, batch);
    try {
      return (await this.model.passes.forward(x, layers)).map(readAndDispose);
    } finally {
      x.dispose();
    }
  }

  /**
   * ∂/∂input of Σ seed ⊙ activations(layer), with the activations; `rule` for ReLU units. The seed is fixed, or
   * computed from the activations (on ONNX Runtime that costs a forward to the layer first).
   */
  async inputGradient(layer: string, input: Float32Array, batch: number, seed: SeedFunction | Float32Array,
    rule: ReluRule = 'standard'): Promise<GradientResult> {
    const x = this.inputTensor(input, batch);
    const fixed = seed instanceof Float32Array ? this.layerTensor(layer, seed, batch) : undefined;
    try {
      const r = await this.model.passes.objectiveGradient(x, layer, fixed ?? ((value) => seedTensor(seed as SeedFunction, value)), rule);
      return { activations: readAndDispose(r.value), gradient: readAndDispose(r.gradient) };
    } finally {
      x.dispose();
      fixed?.dispose();
    }
  }

  /**
   * ∂(Σ_c weights[c] · logit_c)/∂activations(layer), evaluated from given activations of the layer (the
   * model input still feeds branches that bypass it); with the logits.
   */
  async logitGradient(layer: string, input: Float32Array, layerValues: Float32Array, batch: number,
    classWeights: Float32Array): Promise<{ logits: Float32Array; gradient: Float32Array }> {
    const graph = this.model.graph;
    return tf.tidy(() => {
      const x = this.inputTensor(input, batch);
      const { values, gradient } = gradients(graph, x, {
        outputs: [graph.logitsName], wrt: layer, feeds: new Map([[layer, this.layerTensor(layer, layerValues, batch)]]),
        seed: (logits) => tf.tile(tf.tensor2d(classWeights, [1, classWeights.length]), [logits.shape[0]!, 1]),
      });
      return { logits: readArray(values.get(graph.logitsName)!), gradient: readArray(gradient) };
    });
  }

  /** ∂/∂activations(from) of Σ seed ⊙ activations(to), from given activations of `from`; with the activations of `to`. */
  async layerGradient(from: string, input: Float32Array, fromValues: Float32Array, batch: number, to: string,
    seed: SeedFunction): Promise<GradientResult> {
    const graph = this.model.graph;
    return tf.tidy(() => {
      const { values, gradient } = gradients(graph, this.inputTensor(input, batch), {
        outputs: [to], wrt: from, feeds: new Map([[from, this.layerTensor(from, fromValues, batch)]]),
        seed: (out) => seedTensor(seed, out),
      });
      return { activations: readArray(values.get(to)!), gradient: readArray(gradient) };
    });
  }
}
