import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { LoupeError } from '../../../../protocol/errors';
import { readUntrusted } from '../../../io/untrusted';

/** An ONNX file, decoded: the parts of ModelProto Loupe reads, with tensors copied out of the file buffer. */
export interface OnnxModel {
  file: string;
  opset: number;
  producer: string;
  nodes: OnnxNode[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers: Map<string, OnnxTensor>;
  /** Bytes of the file and of its external data: the weights' fingerprint. */
  fingerprintParts: Buffer[];
}

export interface OnnxNode {
  /** The node's name, or `<OpType>_<index>` for unnamed nodes. */
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, OnnxAttr>;
}

export type OnnxAttr = number | string | number[] | OnnxTensor | undefined;

export interface OnnxValueInfo {
  name: string;
  /** Dimensions: a number when fixed, a string (the symbolic name) when not. */
  dims: (number | string)[];
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  /** float32 for floating-point tensors; float64 holding the integers of int tensors (exact below 2⁵³). */
  data: Float32Array | Float64Array;
}

/** Oldest and newest default-domain opsets whose semantics Loupe's translation follows. */
export const MIN_OPSET = 9;
export const MAX_OPSET = 18;
/** ONNX files are protobufs, limited to 2 GB; larger weights live in external data files. */
const MAX_MODEL_BYTES = 2 ** 31 - 1;
const MAX_EXTERNAL_BYTES = 4 * 1024 ** 3;
/** A model's weights beyond this are refused before any is allocated (ResNet-152 holds 60 M floats). */
const MAX_TENSOR_ELEMENTS = 500e6;

const enum DataType { FLOAT = 1, UINT8 = 2, INT8 = 3, UINT16 = 4, INT16 = 5, INT32 = 6, INT64 = 7, BOOL = 9, FLOAT16 = 10, DOUBLE = 11, UINT32 = 12, UINT64 = 13 }
const BYTES: Partial<Record<number, number>> = {
  [DataType.FLOAT]: 4, [DataType.UINT8]: 1, [DataType.INT8]: 1, [DataType.UINT16]: 2, [DataType.INT16]: 2, [DataType.INT32]: 4,
  [DataType.INT64]: 8, [DataType.BOOL]: 1, [DataType.FLOAT16]: 2, [DataType.DOUBLE]: 8, [DataType.UINT32]: 4, [DataType.UINT64]: 8,
};

type Long = { toNumber(): number };
const num = (v: number | Long | null | undefined): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

/** Reads and decodes an ONNX file under the untrusted-file rules (its external data too). */
export function readOnnx(file: string): OnnxModel {
  const bytes = readUntrusted(file, { maxBytes: MAX_MODEL_BYTES, what: 'ONNX model', missingHint: 'point Loupe at an .onnx file' });
  let proto: onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new LoupeError('MODEL_INVALID', `not a valid ONNX protobuf (${(e as Error).message})`, file,
      'the file is truncated or not an ONNX model: export it again with torch.onnx.export');
  }
  const graph = proto.graph;
  if (!graph || !graph.node || graph.node.length === 0) {
    throw new LoupeError('MODEL_INVALID', 'holds no graph', file, 'the file is truncated or not an ONNX model: export it again');
  }
  const opset = defaultOpset(proto, file);
  const external = new ExternalData(path.dirname(file), file);
  const initializers = new Map<string, OnnxTensor>();
  let elements = 0;
  for (const t of graph.initializer ?? []) {
    const dims = (t.dims ?? []).map(num);
    elements += dims.reduce((a, b) => a * b, 1);
    if (elements > MAX_TENSOR_ELEMENTS) {
      throw new LoupeError('MODEL_INVALID', `its initializers declare more than ${MAX_TENSOR_ELEMENTS.toExponential(0)} values (at '${t.name}')`, file,
        'Loupe refuses models this large before reading their weights');
    }
    initializers.set(t.name ?? '', readTensor(t, file, external));
  }
  const nodes = graph.node.map((n, i): OnnxNode => ({
    name: n.name || `${n.opType ?? ''}_${i}`,
    opType: n.opType ?? '',
    domain: n.domain === 'ai.onnx' ? '' : n.domain ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attrs: new Map((n.attribute ?? []).map((a) => [a.name ?? '', attrValue(a, file, external)])),
  }));
  const valueInfo = (v: onnx.IValueInfoProto): OnnxValueInfo => ({
    name: v.name ?? '',
    dims: (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? num(d.dimValue) : '?')),
  });
  return {
    file, opset, producer: `${proto.producerName ?? ''} ${proto.producerVersion ?? ''}`.trim(),
    nodes,
    // Old exporters list initializers among the inputs too.
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(valueInfo),
    outputs: (graph.output ?? []).map(valueInfo),
    initializers,
    fingerprintParts: [bytes, ...external.parts()],
  };
}

function defaultOpset(proto: onnx.ModelProto, file: string): number {
  const entry = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = entry ? num(entry.version) : 1;
  if (opset > MAX_OPSET || opset < MIN_OPSET) {
    throw new LoupeError('UNSUPPORTED_MODEL', `uses ONNX opset ${opset}; Loupe reads opsets ${MIN_OPSET}–${MAX_OPSET}`, file,
      opset > MAX_OPSET ? `export with opset_version=${MAX_OPSET} (torch.onnx.export(..., opset_version=${MAX_OPSET}))` : 'export with opset_version=17');
  }
  return opset;
}

function attrValue(a: onnx.IAttributeProto, file: string, external: ExternalData): OnnxAttr {
  switch (a.type) {
    case onnx.AttributeProto.AttributeType.FLOAT: return a.f ?? 0;
    case onnx.AttributeProto.AttributeType.INT: return num(a.i);
    case onnx.AttributeProto.AttributeType.STRING: return Buffer.from(a.s ?? new Uint8Array()).toString('utf8');
    case onnx.AttributeProto.AttributeType.FLOATS: return [...(a.floats ?? [])];
    case onnx.AttributeProto.AttributeType.INTS: return (a.ints ?? []).map(num);
    case onnx.AttributeProto.AttributeType.TENSOR: return a.t ? readTensor(a.t, file, external) : undefined;
    default: return undefined;
  }
}

/** The tensor's values, copied into a fresh array: raw_data is an unaligned view into the file buffer. */
function readTensor(t: onnx.ITensorProto, file: string, external: ExternalData): OnnxTensor {
  const name = t.name ?? '';
  const dims = (t.dims ?? []).map(num);
  if (!dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new LoupeError('MODEL_INVALID', `tensor '${name}' has dimensions [${dims.join(', ')}]`, file, 'export the model again');
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? 0;
  const width = BYTES[type];
  if (!width) {
    throw new LoupeError('UNSUPPORTED_MODEL', `tensor '${name}' has ONNX data type ${type}, which Loupe does not read`, file,
      'Loupe reads float32, float16, float64 and integer tensors');
  }
  let raw: Uint8Array | undefined;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) raw = external.slice(t, name, count * width);
  else if (t.rawData && t.rawData.length > 0) raw = t.rawData;
  if (raw) {
    if (raw.length !== count * width) {
      throw new LoupeError('WEIGHTS_INVALID', `tensor '${name}' holds ${raw.length} bytes but its dimensions [${dims.join(', ')}] need ${count * width}`, file,
        'the file is damaged: export the model again');
    }
    return { name, dims, data: decodeRaw(raw, type, count) };
  }
  const typed = typedValues(t, type);
  if (typed.length !== count) {
    throw new LoupeError('WEIGHTS_INVALID', `tensor '${name}' holds ${typed.length} values but its dimensions [${dims.join(', ')}] need ${count}`, file,
      'the file is damaged: export the model again');
  }
  const isFloat = type === DataType.FLOAT || type === DataType.DOUBLE || type === DataType.FLOAT16;
  return { name, dims, data: isFloat ? Float32Array.from(typed) : Float64Array.from(typed) };
}

function typedValues(t: onnx.ITensorProto, type: number): number[] {
  switch (type) {
    case DataType.FLOAT: return t.floatData ?? [];
    case DataType.DOUBLE: return t.doubleData ?? [];
    case DataType.INT64: return (t.int64Data ?? []).map(num);
    case DataType.UINT64: case DataType.UINT32: return (t.uint64Data ?? []).map(num);
    case DataType.FLOAT16: return (t.int32Data ?? []).map(halfToFloat);
    default: return t.int32Data ?? [];
  }
}

function decodeRaw(raw: Uint8Array, type: number, count: number): Float32Array | Float64Array {
  const copy = new Uint8Array(raw);
  const view = new DataView(copy.buffer);
  switch (type) {
    case DataType.FLOAT: return new Float32Array(copy.buffer, 0, count);
    case DataType.DOUBLE: return Float32Array.from(new Float64Array(copy.buffer, 0, count));
    case DataType.FLOAT16: return Float32Array.from({ length: count }, (_, i) => halfToFloat(view.getUint16(2 * i, true)));
    case DataType.INT64: return Float64Array.from({ length: count }, (_, i) => Number(view.getBigInt64(8 * i, true)));
    case DataType.UINT64: return Float64Array.from({ length: count }, (_, i) => Number(view.getBigUint64(8 * i, true)));
    case DataType.INT32: return Float64Array.from(new Int32Array(copy.buffer, 0, count));
    case DataType.UINT32: return Float64Array.from(new Uint32Array(copy.buffer, 0, count));
    case DataType.INT16: return Float64Array.from(new Int16Array(copy.buffer, 0, count));
    case DataType.UINT16: return Float64Array.from(new Uint16Array(copy.buffer, 0, count));
    case DataType.INT8: return Float64Array.from(new Int8Array(copy.buffer, 0, count));
    default: return Float64Array.from(copy.subarray(0, count));
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** External tensor data (`location`, `offset`, `length`): files inside the model's folder, each read once. */
class ExternalData {
  private readonly files = new Map<string, Buffer>();

  constructor(private readonly dir: string, private readonly file: string) {}

  slice(t: onnx.ITensorProto, name: string, need: number): Uint8Array {
    const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = entries.get('location');
    if (!location) throw new LoupeError('MODEL_INVALID', `tensor '${name}' is external but names no location`, this.file, 'export the model again');
    let data = this.files.get(location);
    if (!data) {
      data = readUntrusted(location, {
        inside: this.dir, maxBytes: MAX_EXTERNAL_BYTES, what: 'external tensor data', missingCode: 'WEIGHTS_INVALID', invalidCode: 'WEIGHTS_INVALID',
        missingHint: `copy ${location} (written with the model) into the model's folder`, referencedBy: this.file,
      });
      this.files.set(location, data);
    }
    const offset = Number(entries.get('offset') ?? 0);
    const length = entries.has('length') ? Number(entries.get('length')) : need;
    if (!(Number.isInteger(offset) && offset >= 0 && Number.isInteger(length) && length >= 0) || offset + length > data.length) {
      throw new LoupeError('WEIGHTS_INVALID',
        `tensor '${name}' reads bytes ${offset}–${offset + length} of ${location}, which holds ${data.length}`, path.join(this.dir, location),
        'the external data file is truncated or belongs to another export: export the model again');
    }
    return data.subarray(offset, offset + length);
  }

  parts(): Buffer[] {
    return [...this.files.values()];
  }
}
