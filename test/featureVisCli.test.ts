/**
 * `loupe visualize` and `loupe blocks` as users run them (dist/cli.js, build first): files written, their
 * shapes (read from the .npy headers by numpy's format spec), exit codes for bad usage and bad input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { PNG } from 'pngjs';
import { saveColourModel } from './helpers/featureVisModels';
import { CLI_JS } from './workerFixtures';

const CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-fvcli-cache-'));
const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-fvcli-out-'));
after(() => {
  fs.rmSync(CACHE, { recursive: true, force: true });
  fs.rmSync(OUT, { recursive: true, force: true });
});

function loupe(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_JS, ...args], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, LOUPE_CACHE_DIR: CACHE } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function npyShape(file: string): number[] {
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.toString('latin1', 0, 6), '\x93NUMPY');
  const len = bytes.readUInt16LE(8);
  const header = bytes.toString('latin1', 10, 10 + len);
  assert.match(header, /'descr':\s*'<f4'/);
  return (/'shape':\s*\(([^)]*)\)/.exec(header)![1]!).split(',').map((s) => s.trim()).filter(Boolean).map(Number);
}

const DEMO = path.join(__dirname, '../demo/shapes/model/model.json');
const IMAGE = path.join(__dirname, '../demo/images/shape-1-cross.jpg');

test('loupe visualize writes unit_<N>.png and summary.json; a batch writes one image per member', async () => {
  assert.ok(fs.existsSync(CLI_JS), 'dist/cli.js is missing: run `node esbuild.mjs` first');
  const model = await saveColourModel();
  const out = path.join(OUT, 'vis');
  const r = loupe('visualize', '--model', model, '--layer', 'colour', '--unit', '2', '--steps', '20', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  const png = PNG.sync.read(fs.readFileSync(path.join(out, 'unit_2.png')));
  assert.deepEqual([png.width, png.height], [32, 32]);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.values.length, 20);
  assert.equal(summary.params.lr, 0.05);
  assert.match(r.stdout, /20 steps at 32 px/);
  const batch = loupe('visualize', '--model', model, '--layer', 'colour', '--unit', '0', '--objective', 'direction', '--cosine',
    '--diversity', '2', '--steps', '6', '--out', path.join(OUT, 'div'));
  assert.equal(batch.code, 0, batch.stderr);
  for (const f of ['unit_0.png', 'unit_0_0.png', 'unit_0_1.png']) assert.ok(fs.existsSync(path.join(OUT, 'div', f)), f);
  const s2 = JSON.parse(fs.readFileSync(path.join(OUT, 'div', 'summary.json'), 'utf8'));
  assert.deepEqual(s2.objective[0].vector, [1, 0, 0], 'direction defaults to the unit\'s one-hot vector');
  assert.equal(s2.objective[1].weight, -100);
});

test('loupe visualize: bad usage exits 2, a bad layer or unit exits 1 with what to do', () => {
  const usage = loupe('visualize', '--model', DEMO, '--layer', 'relu4', '--out', OUT);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /needs --unit/);
  const objective = loupe('visualize', '--model', DEMO, '--layer', 'relu4', '--unit', '1', '--objective', 'blur', '--out', OUT);
  assert.equal(objective.code, 2);
  const layer = loupe('visualize', '--model', DEMO, '--layer', 'nope', '--unit', '1', '--out', OUT);
  assert.equal(layer.code, 1);
  assert.match(layer.stderr, /'nope' is not a layer whose units can be visualised.*choose one of: .*relu4/);
  const unit = loupe('visualize', '--model', DEMO, '--layer', 'relu4', '--unit', '64', '--out', OUT);
  assert.equal(unit.code, 1);
  assert.match(unit.stderr, /unit 64 is out of range/);
});

test('loupe blocks writes the factors, dictionary, attributions and overlays with the documented shapes', () => {
  const out = path.join(OUT, 'blocks');
  const r = loupe('blocks', '--model', DEMO, '--image', IMAGE, '--layer', 'relu4', '--groups', '4', '--to', 'relu6', '--path-steps', '20', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(npyShape(path.join(out, 'groups.npy')), [4, 16, 16]);
  assert.deepEqual(npyShape(path.join(out, 'group_channels.npy')), [4, 64]);
  assert.deepEqual(npyShape(path.join(out, 'spatial_attribution.npy')), [16, 16]);
  assert.deepEqual(npyShape(path.join(out, 'channel_attribution.npy')), [64]);
  assert.deepEqual(npyShape(path.join(out, 'spatial_attribution_to_relu6.npy')), [16, 16, 16, 16]);
  const dictionary = JSON.parse(fs.readFileSync(path.join(out, 'dictionary.json'), 'utf8'));
  assert.equal(dictionary.positions.length, 256);
  assert.equal(dictionary.positions[0].channels.length, 4);
  for (const f of ['spatial_attribution.png', 'group_0.png', 'group_3.png', 'input.png', 'summary.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
  const bad = loupe('blocks', '--model', DEMO, '--image', IMAGE, '--layer', 'relu4', '--to', 'relu1', '--out', out);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /'relu1' is not computed from 'relu4'/);
});
