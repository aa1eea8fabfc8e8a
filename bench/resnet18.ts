/**
 * torchvision's ResNet18 at 224 px written as an ONNX file by the benchmark itself, for machines without
 * PyTorch: the same nodes, names and shapes `torch.onnx.export` writes for `resnet18()` in eval mode
 * (BatchNorm folded into the convolutions, opset 17), with seeded He-normal weights. Only its cost is
 * meaningful; its logits are checked against ONNX Runtime running this file directly.
 */
import * as fs from 'node:fs';
import { onnx } from 'onnx-proto';
import { gaussianNoise, itemSeed } from '../src/engine/random';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const T = onnx.AttributeProto.AttributeType;

class TorchLikeGraph {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private tensors = 0;

  constructor(private readonly seed: number) {}

  /** A node named as torch.onnx.export names it: `/<module path>/<Op>`, output `<name>_output_0`. */
  node(op: string, scope: string, inputs: string[], attrs: Record<string, number | number[]> = {}, output?: string): string {
    const name = `${scope}/${op}`;
    const out = output ?? `${name}_output_0`;
    const attribute = Object.entries(attrs).map(([k, v]): onnx.IAttributeProto =>
      Array.isArray(v) ? { name: k, type: T.INTS, ints: v } : { name: k, type: T.INT, i: v });
    this.nodes.push({ opType: op, name, input: inputs, output: [out], attribute });
    return out;
  }

  weight(name: string, dims: number[], sigma: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    const data = gaussianNoise(count, itemSeed(this.seed, this.tensors++), sigma);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** Conv with BatchNorm folded in (hence a bias), He-normal weights scaled by `gain`. */
  conv(scope: string, x: string, cin: number, cout: number, k: number, stride: number, gain = 1): string {
    const id = this.initializers.length;
    const w = this.weight(`onnx::Conv_${id}`, [cout, cin, k, k], gain * Math.sqrt(2 / (cin * k * k)));
    const b = this.weight(`onnx::Conv_${id + 1}`, [cout], 0.05);
    const p = (k - 1) >> 1;
    return this.node('Conv', scope, [x, w, b], { dilations: [1, 1], group: 1, kernel_shape: [k, k], pads: [p, p, p, p], strides: [stride, stride] });
  }
}

/** torchvision BasicBlock: conv-relu-conv (+ downsample) add relu; its one `relu` module is called twice. */
function basicBlock(g: TorchLikeGraph, scope: string, x: string, cin: number, cout: number, stride: number): string {
  let h = g.conv(`${scope}/conv1`, x, cin, cout, 3, stride);
  h = g.node('Relu', `${scope}/relu`, [h]);
  // Half gain on the residual branch keeps activations from growing block after block (BN's role).
  h = g.conv(`${scope}/conv2`, h, cout, cout, 3, 1, 0.5);
  const identity = stride !== 1 || cin !== cout ? g.conv(`${scope}/downsample/downsample.0`, x, cin, cout, 1, stride) : x;
  return g.node('Relu', `${scope}/relu_1`, [g.node('Add', scope, [h, identity])]);
}

export function resnet18Onnx(seed = 1, classes = 1000, size = 224): Uint8Array {
  const g = new TorchLikeGraph(seed);
  let x = g.conv('/conv1', 'input', 3, 64, 7, 2);
  x = g.node('Relu', '/relu', [x]);
  x = g.node('MaxPool', '/maxpool', [x], { ceil_mode: 0, kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] });
  let cin = 64;
  for (const [stage, cout] of [64, 128, 256, 512].entries()) {
    const layer = `layer${stage + 1}`;
    for (let b = 0; b < 2; b++) {
      x = basicBlock(g, `/${layer}/${layer}.${b}`, x, cin, cout, b === 0 && stage > 0 ? 2 : 1);
      cin = cout;
    }
  }
  x = g.node('GlobalAveragePool', '/avgpool', [x]);
  x = g.node('Flatten', '', [x], { axis: 1 });
  const w = g.weight('fc.weight', [classes, 512], Math.sqrt(1 / 512));
  const b = g.weight('fc.bias', [classes], 0.05);
  const gemm = g.node('Gemm', '/fc', [x, w, b], { transB: 1 }, 'logits');
  const dims = (d: number[]) => ({ tensorType: { elemType: FLOAT, shape: { dim: d.map((v) => ({ dimValue: v })) } } });
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'loupe-bench',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'resnet18',
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: 'input', type: dims([1, 3, size, size]) }],
      output: [{ name: gemm, type: dims([1, classes]) }],
    },
  }).finish();
}

export function saveResNet18Onnx(file: string, seed = 1): string {
  fs.writeFileSync(file, resnet18Onnx(seed));
  return file;
}
