/**
 * The host's TCAV pieces that need no VS Code: the CodeLens text, which result a layer shows, the default
 * layers, the panel's message and state guards, the CSV, the request a result came from, and the
 * built-in concept list the pickers offer (against the engine's generator).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BUILTIN_CONCEPTS } from '../src/engine/dissection/probe/conceptImages';
import { latestForLayer, tcavDescription, tcavLensTitle } from '../src/host/tcav/labels';
import { defaultTcavLayers, TCAV_BUILTIN_CONCEPTS, TCAV_CSV_HEADER, tcavCsv, tcavRequestOf } from '../src/protocol/tcav';
import { isFromTcavWebview, isTcavPanelState } from '../src/protocol/tcavWebview';
import { tcavFixture } from './tcavFixture';

test('the CodeLens names the layer\'s concepts, significant first, with * and n.s.', () => {
  const r = tcavFixture();
  assert.equal(tcavLensTitle(r, 'relu2'), 'TCAV for "circle": circle 0.95*, red 0.50 n.s., random 0.45 n.s. (CAV acc. 0.48)');
  assert.equal(tcavLensTitle(r, 'relu4'), 'TCAV for "circle": red 0.15*, circle 0.75 n.s., random 0.50 n.s. (CAV acc. 0.51)');
  assert.equal(tcavLensTitle(r, 'relu2', 1), 'TCAV for "circle": circle 0.95*, …');
  assert.equal(tcavLensTitle(r, 'conv1'), undefined);
  assert.equal(tcavDescription(r), 'circle · relu2, relu4 · circle, red, random (4 runs)');
});

test('a layer shows the newest result that tested it', () => {
  const a = { ...tcavFixture(), key: 'a', created: 1 };
  const b = { ...tcavFixture(), key: 'b', created: 2, layers: tcavFixture().layers.slice(1) };
  assert.equal(latestForLayer([a, b], 'relu4')?.key, 'b');
  assert.equal(latestForLayer([a, b], 'relu2')?.key, 'a');
  assert.equal(latestForLayer([a, b], 'gap'), undefined);
});

test('default layers: three block ends spread through the demo shapes model (from its model.json)', () => {
  const model = JSON.parse(fs.readFileSync(path.join(__dirname, '../demo/shapes/model/model.json'), 'utf8')) as {
    modelTopology: { config: { layers: { class_name: string; config: { name: string } }[] } };
  };
  const topology = model.modelTopology.config.layers;
  const names = topology.map((l) => l.config.name);
  const relus = names.filter((n) => /^relu\d$/.test(n));
  assert.deepEqual(relus, ['relu1', 'relu2', 'relu3', 'relu4', 'relu5', 'relu6']);
  // Spatial unless dense or globally pooled (the shapes themselves do not matter here).
  const layers = topology.map((l) => ({
    name: l.config.name, className: l.class_name, outputShape: l.class_name === 'Dense' || l.class_name.startsWith('Global') ? [4] : [8, 8, 8], isConv: /Conv/.test(l.class_name),
  }));
  assert.deepEqual(defaultTcavLayers(layers), ['relu2', 'relu4', 'relu6']);
  assert.deepEqual(defaultTcavLayers(layers.slice(0, 3)), layers.slice(1, 3).map((l) => l.name));
});

test('the panel\'s guards refuse extra keys, unknown formats and bad state', () => {
  assert.ok(isFromTcavWebview({ type: 'export', format: 'csv' }));
  assert.ok(!isFromTcavWebview({ type: 'export', format: 'exe' }));
  assert.ok(!isFromTcavWebview({ type: 'export', format: 'csv', path: '/etc/passwd' }));
  assert.ok(isFromTcavWebview({ type: 'openLayer', layer: 'relu2' }));
  assert.ok(!isFromTcavWebview({ type: 'openLayer', layer: '' }));
  assert.ok(isFromTcavWebview({ type: 'recompute' }));
  assert.ok(!isFromTcavWebview({ type: 'run', options: {} }));
  assert.ok(isTcavPanelState({ modelPath: '/w/m.json', key: '0123456789abcdef01234567' }));
  assert.ok(!isTcavPanelState({ modelPath: '/w/m.json', key: '../../x' }));
  assert.ok(!isTcavPanelState({ modelPath: '/w/m.json', key: '0123456789abcdef', extra: 1 }));
});

test('tcav.csv: the header of the issue, one row per layer and concept, names with commas quoted', () => {
  const r = tcavFixture();
  r.layers[0]!.concepts[1]!.concept = 'red, "bright"';
  const lines = tcavCsv(r).trimEnd().split('\n');
  assert.equal(lines[0], TCAV_CSV_HEADER);
  assert.equal(TCAV_CSV_HEADER, 'layer,concept,tcav_mean,tcav_std,p_value,significant,cav_accuracy');
  assert.equal(lines.length, 7);
  assert.equal(lines[1], 'relu2,circle,0.95,0.05,0.0004,true,0.97');
  assert.equal(lines[2], 'relu2,"red, ""bright""",0.5,0.05,0.61,false,0.9');
  assert.equal(lines[6], 'relu4,random,0.5,0.05,,false,0.51');
});

test('Recompute asks for the same sets, layers and parameters', () => {
  const r = tcavFixture();
  r.layers.forEach((l) => { l.concepts[1]!.source = '/w/concepts/red'; });
  assert.deepEqual(tcavRequestOf(r), {
    classIndex: 0, classImages: '/w/tcav/circle',
    concepts: [{ kind: 'builtin', name: 'circle' }, { kind: 'folder', path: '/w/concepts/red' }, { kind: 'builtin', name: 'random' }],
    random: { kind: 'builtin' }, layers: ['relu2', 'relu4'], runs: 4, imagesPerSet: 50, cav: 'logistic', alpha: 0.05, minCavAccuracy: 0.6, seed: 0,
  });
});

test('the pickers\' built-in concepts are the ones the engine draws', () => {
  assert.deepEqual(Object.values(TCAV_BUILTIN_CONCEPTS).flat(), [...BUILTIN_CONCEPTS]);
});
