/**
 * `loupe` as users run it (dist/cli.js, build first): files written, shapes in the .npy headers,
 * describe --json, and exit codes / messages for bad inputs and bad usage.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { savePlantedModel } from './helpers/plantedModel';
import { CAM_LAYER, CAM_SHAPE, CLI_JS, INPUT_SHAPE, makeBadInputs, makeFixtures, NUM_CLASSES, type Fixtures } from './workerFixtures';

const CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-cli-cache-'));

function loupe(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_JS, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, LOUPE_CACHE_DIR: CACHE } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Reads a .npy header by the format spec (NEP 1), independently of Loupe's writer. */
function npyHeader(file: string): { descr: string; shape: number[]; dataBytes: number } {
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.toString('latin1', 0, 6), '\x93NUMPY', `${file}: npy magic`);
  const major = bytes[6]!;
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? '';
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  assert.equal((start + headerLen) % 16, 0, 'npy data starts on a 16-byte boundary');
  return { descr, shape, dataBytes: bytes.length - start - headerLen };
}

describe('loupe CLI', () => {
  let f: Fixtures;
  before(async () => {
    assert.ok(fs.existsSync(CLI_JS), 'dist/cli.js is missing: run `node esbuild.mjs` first');
    f = await makeFixtures();
  });
  after(() => {
    fs.rmSync(f.dir, { recursive: true, force: true });
    fs.rmSync(CACHE, { recursive: true, force: true });
  });

  test('explain writes .npy/.png/summary.json with the shapes of the model and the CAM layer', () => {
    const out = path.join(f.dir, 'out');
    const r = loupe('explain', '--model', f.model, '--image', f.image, '--method', 'gradient,gradcam',
      '--backend', 'wasm', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    for (const name of ['gradient.npy', 'gradient.png', 'gradcam.npy', 'gradcam_lowres.npy', 'gradcam.png', 'input.png', 'summary.json']) {
      assert.ok(fs.existsSync(path.join(out, name)), `${name} written`);
    }
    const [h, w, c] = INPUT_SHAPE;
    const grad = npyHeader(path.join(out, 'gradient.npy'));
    assert.equal(grad.descr, '<f4');
    assert.deepEqual(grad.shape, [h, w, c]);
    assert.equal(grad.dataBytes, h * w * c * 4);
    assert.deepEqual(npyHeader(path.join(out, 'gradcam.npy')).shape, [h, w]);
    assert.deepEqual(npyHeader(path.join(out, 'gradcam_lowres.npy')).shape, [...CAM_SHAPE]);
    for (const png of ['gradient.png', 'input.png']) {
      assert.deepEqual([...fs.readFileSync(path.join(out, png)).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    }
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.deepEqual(summary.maps.map((m: { method: string }) => m.method), ['gradient', 'gradcam']);
    assert.equal(summary.maps[1].layer, CAM_LAYER);
    // The printed table names each method on its own row with a millisecond count.
    assert.match(r.stdout, /^gradient\s+\d+\s/m);
    assert.match(r.stdout, /^gradcam\s+\d+\s/m);
  });

  test('explain --preprocessing applies over loupe.json: summary.json says what the image went through; a bad value exits 1 naming the key', () => {
    const out = path.join(f.dir, 'out-pre');
    const r = loupe('explain', '--model', f.model, '--image', f.image, '--method', 'gradient', '--backend', 'wasm',
      '--preprocessing', '{"range": [-1, 1], "std": [0.5]}', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.deepEqual(summary.preprocessing.range, [-1, 1]);
    assert.deepEqual(summary.preprocessing.std, [0.5]);
    const plain = path.join(f.dir, 'out-plain');
    assert.equal(loupe('explain', '--model', f.model, '--image', f.image, '--method', 'gradient', '--backend', 'wasm', '--out', plain).code, 0);
    assert.notDeepEqual(JSON.parse(fs.readFileSync(path.join(plain, 'summary.json'), 'utf8')).predictions[0].logit, summary.predictions[0].logit);
    const bad = loupe('explain', '--model', f.model, '--image', f.image, '--backend', 'wasm', '--preprocessing', '{"std": [0]}', '--out', path.join(f.dir, 'bad-pre'));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"preprocessing.std" must not contain 0/);
  });

  test('describe --json lists every layer of model.json', () => {
    const r = loupe('describe', '--model', f.model, '--json', '--backend', 'wasm');
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    assert.deepEqual(d.inputShape, [...INPUT_SHAPE]);
    assert.equal(d.numClasses, NUM_CLASSES);
    const names: string[] = d.layers.map((l: { name: string }) => l.name);
    for (const name of f.layerNames) assert.ok(names.includes(name), `layer ${name} listed`);
    const conv = d.layers.find((l: { name: string }) => l.name === CAM_LAYER);
    assert.equal(conv.isConv, true);
    assert.deepEqual(conv.outputShape, [...CAM_SHAPE, 8]);
    assert.equal(conv.params, 3 * 3 * 6 * 8 + 8, 'kernel 3×3×6×8 plus 8 biases');

    const table = loupe('describe', '--model', f.model, '--backend', 'wasm');
    assert.equal(table.code, 0, table.stderr);
    for (const name of f.layerNames) assert.match(table.stdout, new RegExp(`^${name}\\s`, 'm'));
  });

  test('bad inputs exit 1 with a loupe: message naming the file and no stack trace', () => {
    const bad = makeBadInputs(f);
    const cases = [
      ...bad.map((b) => ({ name: b.name, args: ['--model', b.model, '--image', b.image], file: b.file })),
      { name: 'missing image', args: ['--model', f.model, '--image', path.join(f.dir, 'nope.png')], file: path.join(f.dir, 'nope.png') },
    ];
    for (const c of cases) {
      const r = loupe('explain', ...c.args, '--method', 'gradient', '--backend', 'wasm', '--out', path.join(f.dir, 'bad-out'));
      assert.equal(r.code, 1, `${c.name}: exit 1 (stderr: ${r.stderr})`);
      assert.match(r.stderr, /^loupe: /m, c.name);
      assert.ok(r.stderr.includes(c.file), `${c.name}: names ${c.file}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m, `${c.name}: no stack trace`);
    }
    assert.equal(fs.existsSync(path.join(f.dir, 'bad-out', 'summary.json')), false);
  });

  test('dissect writes a NetDissect-style tally.csv, an HTML report and one strip per unit', async () => {
    const model = await savePlantedModel();
    const out = path.join(f.dir, 'dissect-out');
    const r = loupe('dissect', '--model', model, '--layer', 'detectors', '--images', '300', '--top', '5', '--backend', 'wasm', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /detectors \[28, 28, 3\] over built-in \(300 images/);
    const rows = fs.readFileSync(path.join(out, 'tally.csv'), 'utf8').trim().split('\n');
    assert.equal(rows[0], 'unit,category,label,score');
    assert.equal(rows.length, 4);
    const byUnit = new Map(rows.slice(1).map((line) => [line.split(',')[0], line.split(',')]));
    assert.deepEqual(byUnit.get('1')!.slice(1, 3), ['texture', 'horizontal stripes']);
    const scores = rows.slice(1).map((line) => Number(line.split(',')[3]));
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a), 'sorted by score');
    const result = JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8'));
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    for (const u of result.units) {
      assert.ok(html.includes(`src="${u.strip}"`), `report shows ${u.strip}`);
      const png = PNG.sync.read(fs.readFileSync(path.join(out, u.strip)));
      assert.equal(png.width, 5 * 112 + 4 * 2);
    }
    const again = loupe('dissect', '--model', model, '--layer', 'detectors', '--images', '300', '--top', '5', '--backend', 'wasm', '--out', out);
    assert.match(again.stdout, /from the cache/);

    const bad = loupe('dissect', '--model', model, '--layer', 'logits', '--out', out);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /'logits' is not a layer with a spatial .*\(dissect one of: features, pool, detectors\)/);
    const missing = loupe('dissect', '--model', model, '--layer', 'detectors', '--probe', path.join(f.dir, 'no-such-probe'), '--out', out);
    assert.equal(missing.code, 1);
    assert.ok(missing.stderr.includes(path.join(f.dir, 'no-such-probe')));
    assert.equal(loupe('dissect', '--model', model, '--out', out).code, 2, 'no --layer is a usage error');
  });

  test('usage errors exit 2', () => {
    const out = path.join(f.dir, 'usage-out');
    const cases: string[][] = [
      ['explain', '--model', f.model, '--image', f.image],                        // no --out
      ['explain', '--model', f.model, '--image', f.image, '--out', out, '--method', 'magic'],
      ['explain', '--model', f.model, '--image', f.image, '--out', out, '--samples', 'many'],
      ['explain', '--model', f.model, '--image', f.image, '--out', out, '--bogus'],
      ['explain', '--model', f.model, '--image', f.image, '--out', out, '--preprocessing', '{std: 2}'],
      ['explain', '--model', f.model, '--image', f.image, '--out', out, '--preprocessing', '[0, 1]'],
      ['describe'],
      ['frobnicate'],
    ];
    for (const args of cases) {
      const r = loupe(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: exit 2 (stderr: ${r.stderr})`);
      assert.match(r.stderr, /^loupe: /m);
    }
    assert.equal(fs.existsSync(out), false, 'nothing written on a usage error');
  });

  test('--help and --version', () => {
    const help = loupe('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /loupe explain/);
    const version = loupe('--version');
    assert.equal(version.code, 0);
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    assert.equal(version.stdout.trim(), pkg.version);
  });
});
