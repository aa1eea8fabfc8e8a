/**
 * Writes a TF.js Layers model as a tfjs-converter style Graph model (model.json with `node` ops and a
 * weights manifest of Const tensors), the way tensorflowjs_converter fuses Keras layers: conv + bias +
 * activation into _FusedConv2D, dense into _FusedMatMul. Used to check that both formats give the same maps.
 *   npx tsx scripts/layersToGraph.ts <layers model.json> <output folder>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readModelFiles } from '../src/engine/io/modelFiles';
import { layersInOrder } from '../src/engine/model/fromLayers';

interface NodeDef { name: string; op: string; input: string[]; attr: Record<string, unknown> }

const b64 = (s: string) => Buffer.from(s).toString('base64');
const listI = (v: number[]) => ({ list: { i: v.map(String) } });
const str = (s: string) => ({ s: b64(s) });
const FUSED_ACT: Record<string, string> = { relu: 'Relu', relu6: 'Relu6', elu: 'Elu', sigmoid: 'Sigmoid', tanh: 'Tanh', selu: 'Selu' };
const pairOf = (v: unknown): number[] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v ?? 1), Number(v ?? 1)]);

export async function layersToGraph(modelJson: string, outDir: string): Promise<string> {
  const files = readModelFiles(modelJson);
  const model = await tf.loadLayersModel({ load: async () => files.artifacts });
  const nodes: NodeDef[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  const constant = (name: string, t: tf.Tensor) => {
    const data = t.dtype === 'int32' ? Int32Array.from(t.dataSync()) : Float32Array.from(t.dataSync());
    specs.push({ name, shape: t.shape, dtype: t.dtype as 'float32' | 'int32' });
    buffers.push(Buffer.from(data.buffer));
    nodes.push({ name, op: 'Const', input: [], attr: { dtype: { type: t.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' } } });
    return name;
  };
  const activationNode = (name: string, input: string, act: string, extra: Record<string, unknown> = {}) => {
    const op = act === 'softmax' ? 'Softmax' : FUSED_ACT[act];
    if (!op) throw new Error(`layersToGraph: activation ${act} of ${name}`);
    nodes.push({ name, op, input: [input], attr: extra });
  };
  for (const layer of layersInOrder(model)) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    const name = layer.name;
    const inputs = (layer.inboundNodes[0]?.inboundLayers ?? []).map((l) => l.name);
    const w = layer.getWeights();
    const act = String(cfg.activation ?? 'linear');
    switch (cls) {
      case 'InputLayer': {
        const shape = (layer.outputShape as number[]).map((d) => ({ size: String(d ?? -1) }));
        nodes.push({ name, op: 'Placeholder', input: [], attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: shape } } } });
        break;
      }
      case 'Conv2D': case 'DepthwiseConv2D': {
        const kernel = constant(`${name}/kernel`, w[0]!);
        const outChannels = cls === 'Conv2D' ? w[0]!.shape[3]! : w[0]!.shape[2]! * w[0]!.shape[3]!;
        const bias = constant(`${name}/bias`, w[1] ?? tf.zeros([outChannels]));
        const fusable = act === 'linear' || FUSED_ACT[act];
        const s = pairOf(cfg.strides);
        const d = pairOf(cfg.dilationRate);
        nodes.push({
          name: fusable ? name : `${name}/conv`, op: cls === 'Conv2D' ? '_FusedConv2D' : 'FusedDepthwiseConv2dNative',
          input: [inputs[0]!, kernel, bias],
          attr: {
            strides: listI([1, s[0]!, s[1]!, 1]), dilations: listI([1, d[0]!, d[1]!, 1]),
            padding: str(String(cfg.padding).toUpperCase()), data_format: str('NHWC'),
            fused_ops: { list: { s: [b64('BiasAdd'), ...(FUSED_ACT[act] ? [b64(FUSED_ACT[act]!)] : [])] } },
          },
        });
        if (!fusable) activationNode(name, `${name}/conv`, act);
        break;
      }
      case 'Dense': {
        const kernel = constant(`${name}/kernel`, w[0]!);
        const bias = constant(`${name}/bias`, w[1] ?? tf.zeros([w[0]!.shape[1]!]));
        const fused = FUSED_ACT[act];
        const matmulName = act === 'linear' || fused ? name : `${name}/MatMul`;
        nodes.push({
          name: matmulName, op: '_FusedMatMul', input: [inputs[0]!, kernel, bias],
          attr: { transpose_a: { b: false }, transpose_b: { b: false },
            fused_ops: { list: { s: [b64('BiasAdd'), ...(fused ? [b64(fused)] : [])] } } },
        });
        if (matmulName !== name) activationNode(name, matmulName, act);
        break;
      }
      case 'BatchNormalization': {
        const scale = cfg.scale !== false;
        const center = cfg.center !== false;
        let i = 0;
        const gamma = scale ? w[i++]! : tf.onesLike(w[w.length - 1]!);
        const beta = center ? w[i++]! : tf.zerosLike(w[w.length - 1]!);
        nodes.push({
          name, op: 'FusedBatchNormV3',
          input: [inputs[0]!, constant(`${name}/gamma`, gamma), constant(`${name}/beta`, beta),
            constant(`${name}/moving_mean`, w[i]!), constant(`${name}/moving_variance`, w[i + 1]!)],
          attr: { epsilon: { f: Number(cfg.epsilon ?? 1e-3) } },
        });
        break;
      }
      case 'Activation': activationNode(name, inputs[0]!, act); break;
      case 'Softmax': activationNode(name, inputs[0]!, 'softmax'); break;
      case 'ReLU': {
        const max = cfg.maxValue == null ? undefined : Number(cfg.maxValue);
        if (max !== undefined && max !== 6) throw new Error(`layersToGraph: ReLU max ${max}`);
        activationNode(name, inputs[0]!, max === 6 ? 'relu6' : 'relu');
        break;
      }
      case 'LeakyReLU':
        nodes.push({ name, op: 'LeakyRelu', input: [inputs[0]!], attr: { alpha: { f: Number(cfg.alpha ?? 0.3) } } });
        break;
      case 'MaxPooling2D': case 'AveragePooling2D': {
        const size = pairOf(cfg.poolSize);
        const s = cfg.strides == null ? size : pairOf(cfg.strides);
        nodes.push({
          name, op: cls === 'MaxPooling2D' ? 'MaxPool' : 'AvgPool', input: [inputs[0]!],
          attr: { ksize: listI([1, size[0]!, size[1]!, 1]), strides: listI([1, s[0]!, s[1]!, 1]), padding: str(String(cfg.padding ?? 'valid').toUpperCase()) },
        });
        break;
      }
      case 'GlobalAveragePooling2D':
        nodes.push({ name, op: 'Mean', input: [inputs[0]!, constant(`${name}/axes`, tf.tensor1d([1, 2], 'int32'))], attr: { keep_dims: { b: false } } });
        break;
      case 'Flatten':
        nodes.push({ name, op: 'Reshape', input: [inputs[0]!, constant(`${name}/shape`, tf.tensor1d([-1, (layer.outputShape as number[])[1]!], 'int32'))], attr: {} });
        break;
      case 'Dropout':
        nodes.push({ name, op: 'Identity', input: [inputs[0]!], attr: {} });
        break;
      case 'Add':
        nodes.push({ name, op: 'AddV2', input: inputs, attr: {} });
        break;
      case 'Concatenate':
        nodes.push({ name, op: 'ConcatV2', input: [...inputs, constant(`${name}/axis`, tf.tensor1d([-1], 'int32').reshape([]))], attr: {} });
        break;
      default:
        throw new Error(`layersToGraph: layer class ${cls} (${name}) is not converted`);
    }
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'weights.bin'), Buffer.concat(buffers));
  const out = path.join(outDir, 'model.json');
  fs.writeFileSync(out, JSON.stringify({
    format: 'graph-model', generatedBy: 'loupe layersToGraph', convertedBy: 'loupe',
    userDefinedMetadata: { name: model.name },
    modelTopology: { node: nodes, library: {}, versions: {} },
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
  }));
  for (const extra of ['loupe.json', 'labels.txt']) {
    const src = path.join(path.dirname(files.file), extra);
    if (fs.existsSync(src)) fs.copyFileSync(src, path.join(outDir, extra));
  }
  model.dispose();
  return out;
}

if (require.main === module) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: npx tsx scripts/layersToGraph.ts <layers model.json> <output folder>');
    process.exit(2);
  }
  layersToGraph(input, output).then((p) => console.log(`wrote ${p}`), (e) => { console.error(e.message); process.exit(1); });
}
