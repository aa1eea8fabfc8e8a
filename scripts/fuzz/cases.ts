/**
 * One fuzz case from its seed: a family (what is mutated), the files written for it in its own folder,
 * and what is run on them (the engine in-process, a request to the real worker, or the real CLI).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { Fixtures } from './fixtures';
import { mutateJson, ODD_NUMBERS } from './mutateJson';
import type { Rand } from './random';

export type Family = 'layers-json' | 'graph-json' | 'manifest' | 'shard' | 'sidecar' | 'png' | 'jpeg' | 'special' | 'options' | 'worker' | 'cli' | 'webview' | 'onnx';

/** Relative frequency of each family. */
export const FAMILY_WEIGHTS: ReadonlyArray<[Family, number]> = [
  ['layers-json', 20], ['graph-json', 12], ['manifest', 6], ['shard', 8], ['sidecar', 7], ['png', 10], ['jpeg', 6], ['special', 5],
  ['options', 10], ['worker', 14], ['cli', 2], ['webview', 4], ['onnx', 6],
];

export interface Case {
  family: Family;
  /** What was done to the inputs, for the report. */
  what: string;
  model: string;
  image: string;
  /** In-process or worker: the request's method and parameters. */
  request?: { method: string; params: Record<string, unknown> };
  /** CLI: the arguments after dist/cli.js. */
  argv?: string[];
  /** Webview: a message a (hostile) panel could post to the host. */
  message?: unknown;
}

export function pickFamily(r: Rand, only?: Family[], weights?: Partial<Record<Family, number>>): Family {
  const table = FAMILY_WEIGHTS.filter(([f]) => !only || only.includes(f)).map(([f, w]): [Family, number] => [f, weights?.[f] ?? w]);
  let n = r.next() * table.reduce((s, [, w]) => s + w, 0);
  for (const [family, w] of table) if ((n -= w) < 0) return family;
  return table[table.length - 1]![0];
}

const METHODS = ['gradient', 'gradxinput', 'smoothgrad', 'smoothgrad-sq', 'vargrad', 'ig', 'guided-backprop', 'deconvnet', 'cam', 'gradcam', 'guided-gradcam', 'occlusion'];

export function makeCase(fx: Fixtures, dir: string, r: Rand, family: Family): Case {
  fs.mkdirSync(dir, { recursive: true });
  const copyModel = (from: string): string => {
    const to = path.join(dir, 'model');
    fs.cpSync(from, to, { recursive: true });
    return path.join(to, 'model.json');
  };
  const image = path.join(dir, 'image.png');
  fs.writeFileSync(image, fx.png);
  const base = { model: path.join(fx.layersDir, 'model.json'), image };
  switch (family) {
    case 'layers-json':
    case 'graph-json': {
      const model = copyModel(family === 'layers-json' ? fx.layersDir : fx.graphDir);
      const json = JSON.parse(fs.readFileSync(model, 'utf8'));
      const what = family === 'layers-json' ? editLayers(json.modelTopology, r) : editGraph(json.modelTopology, r);
      if (what === 'random') json.modelTopology = mutateJson(json.modelTopology, r);
      fs.writeFileSync(model, JSON.stringify(json));
      return { family, what, model, image };
    }
    case 'manifest': {
      const model = copyModel(r.chance(0.7) ? fx.layersDir : fx.graphDir);
      const json = JSON.parse(fs.readFileSync(model, 'utf8'));
      json.weightsManifest = mutateJson(json.weightsManifest, r);
      fs.writeFileSync(model, JSON.stringify(json));
      return { family, what: 'weightsManifest mutated', model, image };
    }
    case 'shard': {
      const model = copyModel(r.chance(0.7) ? fx.layersDir : fx.graphDir);
      const shard = path.join(path.dirname(model), JSON.parse(fs.readFileSync(model, 'utf8')).weightsManifest[0].paths[0]);
      const bytes = fs.readFileSync(shard);
      const k = r.int(5);
      let what: string;
      if (k === 0) { fs.truncateSync(shard, r.int(bytes.length)); what = 'shard truncated'; }
      else if (k === 1) { fs.appendFileSync(shard, Buffer.alloc(1 + r.int(64))); what = 'shard extended'; }
      else if (k === 2) {
        const at = 4 * r.int(bytes.length / 4);
        bytes.writeUInt32LE(r.pick([0x7fc00000, 0x7f800000, 0xff800000]), at);
        fs.writeFileSync(shard, bytes);
        what = `non-finite float at byte ${at}`;
      } else {
        for (let i = 0; i < 1 + r.int(8); i++) bytes[r.int(bytes.length)] = r.int(256);
        fs.writeFileSync(shard, bytes);
        what = 'shard bytes changed';
      }
      return { family, what, model, image };
    }
    case 'sidecar': {
      const model = copyModel(fx.layersDir);
      const file = path.join(path.dirname(model), 'loupe.json');
      const k = r.int(4);
      if (k === 0) fs.writeFileSync(path.join(path.dirname(model), 'labels.txt'), r.pick(['', 'a\n\nb\n', 'a\nb\n', 'a\nb\nc\nd\n', '\uFEFFa\r\nb\r\nc\r\n']));
      else fs.writeFileSync(file, JSON.stringify(mutateJson(JSON.parse(fs.readFileSync(file, 'utf8')), r)));
      return { family, what: k === 0 ? 'labels.txt changed' : 'loupe.json mutated', model, image };
    }
    case 'png':
    case 'jpeg': {
      const bytes = family === 'png' ? mutatePng(fx.png, r) : mutateBytes(fx.jpeg, r, jpegDims);
      const file = path.join(dir, family === 'png' ? 'm.png' : 'm.jpg');
      fs.writeFileSync(file, bytes.data);
      return { family, what: bytes.what, ...base, image: file };
    }
    case 'special':
      return special(fx, dir, r, copyModel, base);
    case 'options':
    case 'worker':
      return { family, what: 'request mutated', ...base, request: mutateRequest(fx, r, base.model, image) };
    case 'onnx': {
      // Real exporter output (test/fixtures/onnx, written by torch.onnx.export), its protobuf bytes damaged.
      const from = path.join(fx.onnxRoot, r.pick(['bn_kept', 'external_data', 'opset11_view']));
      const to = path.join(dir, 'onnx');
      fs.mkdirSync(to);
      for (const name of fs.readdirSync(from).filter((n) => n.startsWith('model.onnx'))) fs.copyFileSync(path.join(from, name), path.join(to, name));
      const target = path.join(to, fs.existsSync(path.join(to, 'model.onnx.data')) && r.chance(0.3) ? 'model.onnx.data' : 'model.onnx');
      const bytes = mutateBytes(fs.readFileSync(target), r, () => undefined);
      fs.writeFileSync(target, bytes.data);
      return { family, what: `${path.basename(from)}/${path.basename(target)} ${bytes.what}`, ...base, model: path.join(to, 'model.onnx') };
    }
    case 'webview': {
      const message = r.chance(0.85) ? mutateJson(r.pick(WEBVIEW_MESSAGES), r, 1 + r.int(2)) : r.pick(WEBVIEW_MESSAGES);
      return { family, what: 'webview message', ...base, message };
    }
    case 'cli': {
      const out = path.join(dir, 'out');
      const model = r.chance(0.5) ? base.model : copyModel(fx.layersDir);
      const args = ['explain', '--model', model, '--image', image, '--method', r.pick(METHODS), '--out', out, '--backend', r.pick(['wasm', 'auto'])];
      const extra = r.pick([['--samples', '1000000000'], ['--steps', '0'], ['--class', '-1'], ['--class', '99'], ['--layer', 'nope'],
        ['--preprocessing', '{"__proto__": {"x": 1}}'], ['--preprocessing', '{"std": [0]}'], ['--window', '-3'], ['--sigma', 'NaN'], ['--samples', '2']]);
      if (model !== base.model && r.chance(0.5)) {
        // Output file names that are symlinks to files outside --out: written next to the link, never through it.
        fs.mkdirSync(out);
        fs.symlinkSync(path.join(fx.outside, 'secret.txt'), path.join(out, 'summary.json'));
      }
      return { family, what: `cli ${extra.join(' ')}`, model, image, argv: [...args, ...extra] };
    }
  }
}

/** Messages the panels post (src/protocol/*Webview.ts), the starting points of the webview family. */
const WEBVIEW_MESSAGES: readonly object[] = [
  { type: 'ready' }, { type: 'explainClass', classIndex: 2 }, { type: 'setLayer', layer: 'c2' }, { type: 'runOcclusion' },
  { type: 'exportPng', method: 'gradient', dataUrl: 'data:image/png;base64,iVBORw0KGgo=' }, { type: 'exportJson', method: 'ig' },
  { type: 'openLayer', layer: 'c1' }, { type: 'ui', ui: { sequential: 'inferno', diverging: 'RdBu', opacity: 0.6 } }, { type: 'createSidecar' },
  { type: 'dissect', layer: 'c2' }, { type: 'openUnit', unit: 3 }, { type: 'visualize', layer: 'c2', unit: 1 },
  { type: 'run', classIndex: 1, layers: ['c2'], concepts: ['builtin:red'] }, { type: 'exportCsv' },
];

/** Edits of a Layers topology aimed at its graph: cycles, missing layers, duplicate names, node indices, shapes. */
function editLayers(topology: { config: { layers: Array<{ name: string; config: Record<string, unknown>; inbound_nodes: unknown[][][] }> } }, r: Rand): string {
  const layers = topology.config.layers;
  const a = r.pick(layers);
  const b = r.pick(layers);
  switch (r.int(8)) {
    case 0: if (a.inbound_nodes[0]?.[0]) { a.inbound_nodes[0][0]![0] = b.name; return `'${a.name}' reads '${b.name}'`; } break;
    case 1: if (a.inbound_nodes[0]?.[0]) { a.inbound_nodes[0][0]![0] = 'ghost'; return `'${a.name}' reads a missing layer`; } break;
    case 2: a.name = b.name; a.config.name = b.name; return `'${a.name}' named as '${b.name}'`;
    case 3: if (a.inbound_nodes[0]?.[0]) { a.inbound_nodes[0][0]![1] = r.pick([1, 5, -1, 0.5]); return `'${a.name}' node index`; } break;
    case 4: {
      const shape = layers[0]!.config.batch_input_shape as unknown[];
      shape[1 + r.int(3)] = r.pick([0, -5, 64.5, 1, 2, 4000, 1e9]);
      return `input shape [${shape.join(', ')}]`;
    }
    case 5: {
      const keys = Object.keys(a.config).filter((k) => ['filters', 'units', 'kernel_size', 'strides', 'pool_size', 'dilation_rate'].includes(k));
      if (keys.length) {
        const key = r.pick(keys);
        a.config[key] = Array.isArray(a.config[key]) ? [r.pick(ODD_NUMBERS), r.pick(ODD_NUMBERS)] : r.pick(ODD_NUMBERS);
        return `'${a.name}'.${key} = ${JSON.stringify(a.config[key])}`;
      }
      break;
    }
    case 6: if (r.chance(0.5)) { a.config.activation = r.pick(['swish', 'gelu', 'elu', 'tanh', 'nope', 'softmax']); return `'${a.name}' activation`; } break;
  }
  return 'random';
}

interface GraphNode { name: string; op: string; input?: string[]; attr?: Record<string, { list?: { i?: string[] }; s?: string; shape?: { dim: Array<{ size: string }> } }> }

/** Edits of a converter graph: edges (cycles, missing nodes), duplicate names, strides, explicit padding, the input shape. */
function editGraph(topology: { node: GraphNode[] }, r: Rand): string {
  const nodes = topology.node;
  const a = r.pick(nodes);
  const b = r.pick(nodes);
  switch (r.int(7)) {
    case 0: if (a.input?.length) { a.input[0] = b.name; return `'${a.name}' reads '${b.name}'`; } break;
    case 1: if (a.input?.length) { a.input[0] = 'ghost:0'; return `'${a.name}' reads a missing node`; } break;
    case 2: a.name = b.name; return `two nodes named '${b.name}'`;
    case 3: if (a.attr?.strides) { a.attr.strides = { list: { i: ['1', String(r.pick([0, -1, 1e9, 3])), String(r.pick([0, 2, 5])), '1'] } }; return `'${a.name}' strides`; } break;
    case 4: if (a.attr?.padding) {
      a.attr.padding = { s: Buffer.from('EXPLICIT').toString('base64') };
      a.attr.explicit_paddings = { list: { i: Array.from({ length: r.pick([0, 2, 8]) }, () => String(r.pick([0, 1, -2, 100]))) } };
      return `'${a.name}' explicit padding`;
    } break;
    case 5: {
      const input = nodes.find((n) => n.op === 'Placeholder');
      const dims = input?.attr?.shape?.shape?.dim;
      if (dims) { dims[1 + r.int(3)] = { size: String(r.pick([0, -5, 64.5, 1, 4000, 1e9])) }; return 'input shape'; }
      break;
    }
  }
  return 'random';
}

const jpegDims = (b: Buffer, r: Rand): string | undefined => {
  const sof = b.indexOf(Buffer.from([0xff, 0xc0]));
  if (sof < 0) return undefined;
  b.writeUInt16BE(r.pick([0, 1, 65535, 30000]), sof + 5 + r.int(2) * 2);
  return 'SOF dimensions';
};

function mutateBytes(src: Buffer, r: Rand, structural: (b: Buffer, r: Rand) => string | undefined): { data: Buffer; what: string } {
  const b = Buffer.from(src);
  const k = r.int(4);
  if (k === 0) return { data: b.subarray(0, r.int(b.length)), what: 'truncated' };
  if (k === 1) { const what = structural(b, r); if (what) return { data: b, what }; }
  for (let i = 0; i < 1 + r.int(6); i++) b[r.int(b.length)] = r.int(256);
  return { data: b, what: 'bytes changed' };
}

/** PNG edits that keep the chunk CRCs valid, so they reach the decoder instead of the CRC check. */
function mutatePng(src: Buffer, r: Rand): { data: Buffer; what: string } {
  if (r.chance(0.4)) return mutateBytes(src, r, () => undefined);
  const chunks: Array<{ type: string; data: Buffer }> = [];
  for (let at = 8; at + 8 <= src.length;) {
    const len = src.readUInt32BE(at);
    chunks.push({ type: src.toString('latin1', at + 4, at + 8), data: Buffer.from(src.subarray(at + 8, at + 8 + len)) });
    at += 12 + len;
  }
  const ihdr = chunks[0]!.data;
  let what: string;
  switch (r.int(4)) {
    case 0: ihdr.writeUInt32BE(r.pick([0, 1, 20000, 2 ** 31 - 1]), r.pick([0, 4])); what = 'IHDR size'; break;
    case 1: ihdr[8] = r.pick([1, 2, 4, 8, 16, 3, 0]); ihdr[9] = r.pick([0, 2, 3, 4, 6, 1, 7]); what = `bit depth ${ihdr[8]} colour type ${ihdr[9]}`; break;
    case 2: ihdr[12] = r.pick([0, 1, 2]); what = `interlace ${ihdr[12]}`; break;
    default: {
      const idat = chunks.find((c) => c.type === 'IDAT')!;
      const raw = zlib.inflateSync(idat.data);
      for (let i = 0; i < 1 + r.int(6); i++) raw[r.int(raw.length)] = r.int(256);
      idat.data = zlib.deflateSync(r.chance(0.5) ? raw : raw.subarray(0, r.int(raw.length)));
      what = 'pixel data (filters, lengths)';
    }
  }
  const out = [src.subarray(0, 8)];
  for (const c of chunks) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(c.data.length);
    head.write(c.type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), c.data])) >>> 0);
    out.push(head, c.data, crc);
  }
  return { data: Buffer.concat(out), what };
}

/** Files that are not what their name says: FIFOs, devices, folders, symlinks leaving the folder. */
function special(fx: Fixtures, dir: string, r: Rand, copyModel: (from: string) => string, base: { model: string; image: string }): Case {
  const fifo = (file: string) => { fs.rmSync(file, { recursive: true, force: true }); spawnSync('mkfifo', [file]); };
  const link = (file: string, to: string) => { fs.rmSync(file, { recursive: true, force: true }); fs.symlinkSync(to, file); };
  const k = r.int(11);
  const model = k >= 4 ? copyModel(fx.layersDir) : base.model;
  const folder = path.dirname(model);
  const at = (name: string) => path.join(folder, name);
  switch (k) {
    case 0: return { family: 'special', what: 'image /dev/zero', model, image: '/dev/zero' };
    case 1: { const f = path.join(dir, 'fifo.png'); fifo(f); return { family: 'special', what: 'image FIFO', model, image: f }; }
    case 2: { const f = path.join(dir, 'dir.png'); fs.mkdirSync(f); return { family: 'special', what: 'image is a folder', model, image: f }; }
    case 3: return { family: 'special', what: 'model /dev/zero', model: '/dev/zero', image: base.image };
    case 4: fifo(at('model.json')); return { family: 'special', what: 'model.json FIFO', model, image: base.image };
    case 5: fifo(at('weights.bin')); return { family: 'special', what: 'shard FIFO', model, image: base.image };
    case 6: link(at('weights.bin'), path.join(fx.outside, 'big.bin')); return { family: 'special', what: 'shard symlink outside', model, image: base.image };
    case 7: link(at('labels.txt'), path.join(fx.outside, 'secret.txt')); return { family: 'special', what: 'labels.txt symlink outside', model, image: base.image };
    case 8: fs.rmSync(at('labels.txt')); fs.mkdirSync(at('labels.txt')); return { family: 'special', what: 'labels.txt is a folder', model, image: base.image };
    case 9: fifo(at('loupe.json')); return { family: 'special', what: 'loupe.json FIFO', model, image: base.image };
    default: fs.rmSync(at('model.json')); fs.mkdirSync(at('model.json')); return { family: 'special', what: 'model.json is a folder', model, image: base.image };
  }
}

/** A request a host (or a hostile webview message relayed by it) could send: valid parameters, then mutated. */
function mutateRequest(fx: Fixtures, r: Rand, model: string, image: string): { method: string; params: Record<string, unknown> } {
  const methods = [r.pick(METHODS), r.pick(METHODS)];
  const bases: Array<{ method: string; params: Record<string, unknown> }> = [
    { method: 'explain', params: { modelPath: model, imagePath: image, options: { methods, classIndex: r.int(3), layer: r.pick(fx.layers), params: { samples: 2, steps: 3, window: 4, stride: 4 } } } },
    { method: 'predict', params: { modelPath: model, imagePath: image, topK: 2 } },
    { method: 'describe', params: { modelPath: model } },
    { method: 'dissect', params: { modelPath: model, options: { layer: r.pick(['c1', 'c2']), probe: { kind: 'builtin', count: 4, size: 16, seed: 1 }, units: [0], refresh: true } } },
    { method: 'visualize', params: { modelPath: model, options: { objective: [{ kind: 'channel', layer: 'c2', unit: 0 }], params: { steps: 2, size: 16, batch: 1 }, refresh: true } } },
    { method: 'blocks', params: { modelPath: model, imagePath: image, options: { layer: 'c2', groups: 2, pathSteps: 2 } } },
    { method: 'activationGrid', params: { modelPath: model, imagePath: image, options: { layer: 'c2', steps: 2, cellSize: 8 } } },
  ];
  const base = r.pick(bases);
  const params = r.chance(0.8) ? mutateJson(base.params, r, 1 + r.int(2)) : base.params;
  // Paths stay paths most of the time, so the mutation reaches the options rather than the file checks.
  if (r.chance(0.7)) { if ('modelPath' in base.params) params.modelPath = model; if ('imagePath' in base.params) params.imagePath = image; }
  return { method: base.method, params };
}
