// Pure helpers of the extension host: labels, settings, model discovery, code-link filtering.
// Expected values are written by hand from the spec (issue 3) and from arithmetic, not from runs.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { ALL_METHODS, explainOptionsFrom, parseConfig, preprocessingFor, type SettingGetter } from '../src/host/config';
import { chooseActive, isModelJsonText, isSearchablePath, sniffModelJson } from '../src/host/models/discovery';
import { codeLensTitle, escapeMarkdown, formatParams, formatShape, isSpatial, layerSummary, shortModelName, statusText } from '../src/host/format';
import { isIndexedPath } from '../src/host/codeLinks/paths';
import { linksFile, tierOf } from '../src/host/codeLinks/rank';
import type { RankedDefinition } from '../src/host/codeIndex';
import type { LayerInfo } from '../src/protocol/types';

const conv: LayerInfo = {
  // 3×3 kernel over 3 input channels to 16 filters: 3·3·3·16 weights + 16 biases = 448.
  name: 'conv1', className: 'Conv2D', outputShape: [32, 32, 16], params: 3 * 3 * 3 * 16 + 16, isConv: true, inputs: ['input_1'],
};

test('layer labels read "Class · H×W×C · N params"', () => {
  assert.equal(layerSummary(conv), 'Conv2D · 32×32×16 · 448 params');
  assert.equal(codeLensTitle(conv), 'Loupe: conv1 · Conv2D · 32×32×16 · 448 params');
  assert.equal(formatParams(1), '1 param');
  assert.equal(formatParams(0), '0 params');
  assert.equal(formatParams(1234567), '1,234,567 params');
  assert.equal(formatShape([10]), '10');
  assert.equal(formatShape([-1, 7, null]), '?×7×?');
  assert.equal(formatShape([]), 'scalar');
  assert.equal(isSpatial(conv), true);
  assert.equal(isSpatial({ outputShape: [10] }), false);
});

test('status text and short model names', () => {
  assert.equal(statusText('digits', 'wasm', 'busy'), 'Loupe: digits · wasm · busy');
  assert.equal(statusText(undefined, 'auto', 'idle'), 'Loupe: no model · auto · idle');
  assert.equal(shortModelName('demo/digits/model/model.json'), 'digits/model');
  assert.equal(shortModelName('models/resnet18/model.json'), 'resnet18');
  assert.equal(shortModelName('model.json'), 'model.json');
  assert.equal(shortModelName('web_model/model.json'), 'web_model');
});

test('markdown from model files is escaped', () => {
  assert.equal(escapeMarkdown('a_b*[x](y)'), 'a\\_b\\*\\[x\\]\\(y\\)');
});

const settings = (values: Record<string, unknown>): SettingGetter => (key) => values[key];

test('unset settings give the defaults of issue 3', () => {
  const c = parseConfig(settings({}));
  assert.deepEqual(c.problems, []);
  assert.equal(c.activeModel, '');
  assert.equal(c.topK, 5);
  assert.deepEqual(c.methods, ['gradient', 'smoothgrad', 'ig', 'guided-backprop', 'gradcam', 'guided-gradcam']);
  assert.deepEqual(c.smoothgrad, { samples: 25, sigma: 0.15 });
  assert.deepEqual(c.ig, { steps: 50, baseline: 'black' });
  assert.equal(c.backend, 'auto');
  assert.equal(c.maxImagePixels, 40_000_000);
  assert.equal(c.worker.idleTimeoutSeconds, 300);
  assert.deepEqual(c.preprocessing, {});
});

test('package.json declares the same defaults and method list the parser uses', () => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const props = pkg.contributes.configuration.properties as Record<string, { default: unknown; items?: { enum: string[] } }>;
  const c = parseConfig(settings({}));
  const flat: Record<string, unknown> = {
    activeModel: c.activeModel, topK: c.topK, methods: c.methods, 'smoothgrad.samples': c.smoothgrad.samples,
    'smoothgrad.sigma': c.smoothgrad.sigma, 'ig.steps': c.ig.steps, 'ig.baseline': c.ig.baseline, backend: c.backend,
    maxImagePixels: c.maxImagePixels, 'worker.idleTimeoutSeconds': c.worker.idleTimeoutSeconds, preprocessing: c.preprocessing,
    'dissection.probeImages': c.dissection.probeImages, 'dissection.probe': c.dissection.probe,
    'dissection.quantile': c.dissection.quantile, 'dissection.iouThreshold': c.dissection.iouThreshold,
    'featureVis.steps': c.featureVis.steps, exportFolder: c.exportFolder,
    sanityCheck: c.sanityCheck, 'cache.maxMegabytes': c.cache.maxMegabytes, 'worker.keepModels': c.keepModels,
  };
  assert.deepEqual(Object.keys(props).sort(), Object.keys(flat).map((k) => `loupe.${k}`).sort());
  for (const [key, value] of Object.entries(flat)) assert.deepEqual(props[`loupe.${key}`]!.default, value, key);
  assert.deepEqual(props['loupe.methods']!.items!.enum, [...ALL_METHODS]);
});

test('invalid settings fall back to defaults and say so', () => {
  const c = parseConfig(settings({
    topK: 0, 'smoothgrad.samples': 2.5, 'smoothgrad.sigma': 'x', backend: 'gpu', 'ig.baseline': 'white',
    methods: ['gradcam', 'nope', 'gradcam'], 'worker.idleTimeoutSeconds': -1,
  }));
  assert.equal(c.topK, 5);
  assert.equal(c.smoothgrad.samples, 25);
  assert.equal(c.smoothgrad.sigma, 0.15);
  assert.equal(c.backend, 'auto');
  assert.equal(c.ig.baseline, 'black');
  assert.deepEqual(c.methods, ['gradcam']); // the unknown one dropped, the duplicate merged
  assert.equal(c.worker.idleTimeoutSeconds, 300);
  assert.equal(c.problems.length, 7);
  assert.match(c.problems.find((p) => p.startsWith('loupe.backend'))!, /one of auto, onnxruntime, wasm, cpu, got "gpu"; using "auto"/);
  assert.deepEqual(parseConfig(settings({ methods: ['nope'] })).methods, parseConfig(settings({})).methods);
  assert.deepEqual(parseConfig(settings({ methods: 'gradcam' })).methods, parseConfig(settings({})).methods);
});

test('valid settings are kept and reach the explain options', () => {
  const c = parseConfig(settings({
    topK: 3, methods: ['ig'], 'smoothgrad.samples': 10, 'smoothgrad.sigma': 0.2, 'ig.steps': 16, 'ig.baseline': 'blurred',
    backend: 'cpu', 'worker.idleTimeoutSeconds': 0, activeModel: ' demo/digits/model ',
  }));
  assert.deepEqual(c.problems, []);
  assert.equal(c.activeModel, 'demo/digits/model');
  assert.deepEqual(explainOptionsFrom(c, { layer: 'conv2', classIndex: 7 }), {
    methods: ['ig'], topK: 3, classIndex: 7, layer: 'conv2',
    params: { samples: 10, sigma: 0.2, steps: 16, baseline: 'blurred' },
  });
  assert.deepEqual(explainOptionsFrom(c, { methods: ['gradcam'] }).methods, ['gradcam']);
});

test('preprocessing overrides: valid keys kept, malformed ones dropped with a problem', () => {
  const c = parseConfig(settings({
    preprocessing: {
      'a/model.json': { range: [0, 1], mean: [0.5, 0.5, 0.5], std: [0.25], channels: 'bgr' },
      'b/model.json': { range: [0], std: [0], channels: 'cmyk' },
      'c/model.json': 'rgb',
    },
  }));
  assert.deepEqual(c.preprocessing['a/model.json'], { range: [0, 1], mean: [0.5, 0.5, 0.5], std: [0.25], channels: 'bgr' });
  assert.deepEqual(c.preprocessing['b/model.json'], {});
  assert.equal(c.preprocessing['c/model.json'], undefined);
  assert.equal(c.problems.length, 4);
  // Keys are absolute or relative to the workspace: the one that resolves to the model's path applies.
  const resolve = (key: string) => path.resolve('/ws', key);
  assert.deepEqual(preprocessingFor(c, '/ws/a/model.json', resolve), c.preprocessing['a/model.json']);
  assert.equal(preprocessingFor(c, '/ws/z/model.json', resolve), undefined);
  assert.deepEqual(explainOptionsFrom(c).preprocessing, undefined, 'the override is per model, added by the panel');
});

test('model.json sniffing tells TF.js models from other model.json files', () => {
  const layers = '{"format":"layers-model","generatedBy":"TensorFlow.js tfjs-layers v4.22.0","modelTopology":{"class_name":"Sequential"}';
  const graph = '\uFEFF  {\n  "format": "graph-model", "signature": {}, "modelTopology" : {"node": []}, "weightsManifest": []}';
  assert.equal(sniffModelJson(layers, false), 'model');
  assert.equal(sniffModelJson(graph, true), 'model');
  assert.equal(sniffModelJson('{"name": "my-app", "version": "1.0.0"}', true), 'not-model');
  assert.equal(sniffModelJson('{"name": "big", "data": [1, 2, 3', false), 'unsure');
  assert.equal(sniffModelJson('[{"modelTopology": 1}]', true), 'not-model');
  assert.equal(isModelJsonText('{"modelTopology": {"node": []}}'), true);
  assert.equal(isModelJsonText('{"modelTopology": "text"}'), false);
  assert.equal(isModelJsonText('{"modelTopology": '), false);
});

test('discovery skips node_modules and friends; the active model is configured > remembered > first', () => {
  assert.equal(isSearchablePath('demo/digits/model/model.json'), true);
  assert.equal(isSearchablePath('node_modules/@tensorflow/tfjs/model.json'), false);
  assert.equal(isSearchablePath('/home/u/proj/.venv/lib/model.json'), false);
  const found = ['file:///w/b/model.json', 'file:///w/a/model.json'];
  assert.equal(chooseActive(found, 'file:///w/b/model.json', 'file:///w/a/model.json'), 'file:///w/b/model.json');
  assert.equal(chooseActive(found, 'file:///w/gone/model.json', 'file:///w/b/model.json'), 'file:///w/b/model.json');
  assert.equal(chooseActive(found, undefined, undefined), 'file:///w/a/model.json');
  assert.equal(chooseActive([], 'x', 'y'), undefined);
});

test('source paths in excluded folders are not indexed', () => {
  assert.equal(isIndexedPath('demo/digits/train.ts'), true);
  assert.equal(isIndexedPath('dist/extension.js'), false);
  assert.equal(isIndexedPath('a/node_modules/x/index.js'), false);
  assert.equal(isIndexedPath('build.py'), true); // a file named like a folder is still indexed
});

const ranked = (file: string, score: number): RankedDefinition => ({
  definition: { name: 'conv1', file, line: 0, column: 0, nameLine: 0, nameColumn: 0, framework: 'keras', className: 'Conv2D' },
  score, tier: tierOf(score) as 1 | 2 | 3, reason: '',
});

test('lenses go only to files as good as the best link', () => {
  assert.deepEqual([3000, 2999, 2000, 1998, 1000, 997].map(tierOf), [3, 3, 2, 2, 1, 1]);
  const savedBy = [ranked('/w/train.py', 2999), ranked('/w/other.py', 998)];
  assert.equal(linksFile(savedBy, '/w/train.py'), true);
  assert.equal(linksFile(savedBy, '/w/other.py'), false);
  assert.equal(linksFile(savedBy, '/w/new.py'), false);
  const nobody = [ranked('/w/a.py', 999), ranked('/w/b/c.py', 998)];
  assert.equal(linksFile(nobody, '/w/b/c.py'), true);
  assert.equal(linksFile(nobody, '/w/new.py'), true);
  assert.equal(linksFile([], '/w/a.py'), false);
});
