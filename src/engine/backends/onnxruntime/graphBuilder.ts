import { onnx } from 'onnx-proto';

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

/** Opset of the graphs Loupe writes: every op it emits has its current semantics there. */
export const EMIT_OPSET = 17;

/**
 * Writes ONNX graphs op by op: fresh tensor names, float32 and int64 constants, and the final
 * ModelProto bytes for ONNX Runtime. Integer attributes are ints; write { float: x } for a float one.
 */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  /** A fresh tensor name with a readable stem. */
  fresh(stem: string): string {
    return `${stem.replace(/[^\w.#/-]/g, '_')}:${this.counter++}`;
  }

  input(name: string, dims: (number | string)[], elemType = onnx.TensorProto.DataType.FLOAT): string {
    this.inputs.push(valueInfo(name, dims, elemType));
    return name;
  }

  output(name: string, tensor: string): void {
    // An output must be named by the node that writes it: an Identity renames.
    this.op('Identity', [tensor], {}, name);
    this.outputs.push({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } });
  }

  /** Adds one node; returns its output name. */
  op(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    return this.opN(type, inputs, attrs, 1, output)[0]!;
  }

  /** Adds one node with `outputCount` outputs; returns their names. */
  opN(type: string, inputs: string[], attrs: Record<string, AttrValue>, outputCount: number, first?: string): string[] {
    const outs = Array.from({ length: outputCount }, (_, k) => (k === 0 && first ? first : this.fresh(k ? `${type}.out${k}` : type)));
    this.nodes.push({ opType: type, input: inputs, output: outs, name: outs[0], attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return outs;
  }

  /** A float32 initializer. */
  floats(stem: string, dims: number[], data: Float32Array): string {
    const name = this.fresh(stem);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
    return name;
  }

  /** A small float32 constant, shared by value. */
  scalar(value: number, dims: number[] = []): string {
    const key = `f${dims.join('x')}:${value}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.floats('c', dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value));
      this.constCache.set(key, name);
    }
    return name;
  }

  /** An int64 constant (shapes, axes, pads), shared by value. */
  int64(values: number[]): string {
    const key = `i:${values.join(',')}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.fresh('i64');
      const data = new BigInt64Array(values.map((v) => BigInt(v)));
      this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(data.buffer) });
      this.constCache.set(key, name);
    }
    return name;
  }

  encode(): Uint8Array {
    return onnx.ModelProto.encode({
      irVersion: 8,
      producerName: 'loupe',
      opsetImport: [{ domain: '', version: EMIT_OPSET }],
      graph: { name: 'loupe', node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    }).finish();
  }
}

function valueInfo(name: string, dims: (number | string)[], elemType: number): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}
