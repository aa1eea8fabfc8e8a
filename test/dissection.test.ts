/**
 * Network dissection: planted detectors are found, the IoU arithmetic equals a direct computation,
 * the streaming quantile is accurate, the probe sets read what they should, results are cached and
 * a cancelled run leaves nothing behind.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { Engine } from '../src/engine/engine';
import { builtinProbe, PROBE_COLORS, PROBE_SHAPES, PROBE_TEXTURES } from '../src/engine/dissection/probe/builtin';
import { openProbe } from '../src/engine/dissection/probe/open';
import type { Segmentation } from '../src/engine/dissection/probe/types';
import { UnitQuantiles } from '../src/engine/dissection/quantile';
import { IouTally } from '../src/engine/dissection/tally';
import { LoupeError } from '../src/protocol/errors';
import { rng, tempDir } from './helpers/models';
import { PLANTED_UNITS, savePlantedModel } from './helpers/plantedModel';

const DECODE = { maxPixels: 40e6 };

let engine: Engine;
let cacheDir: string;
let planted: string;
before(async () => {
  cacheDir = tempDir('loupe-dissect-cache-');
  engine = await Engine.create({ cacheDir });
  planted = await savePlantedModel();
});
after(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

test('planted detectors: the red unit is labelled red, the stripes unit horizontal stripes; the random unit gets no confident label', async (t) => {
  const result = await engine.dissect(planted, { layer: 'detectors', probe: { kind: 'builtin' } });
  const unit = (u: number) => result.units.find((x) => x.unit === u)!;
  for (const u of result.units) t.diagnostic(`unit ${u.unit}: ${u.label} (${u.category}) IoU ${u.iou.toFixed(4)}`);
  assert.deepEqual([unit(PLANTED_UNITS.red).label, unit(PLANTED_UNITS.red).category], ['red', 'color']);
  assert.ok(unit(PLANTED_UNITS.red).iou > 0.04 && unit(PLANTED_UNITS.red).interpretable);
  assert.deepEqual([unit(PLANTED_UNITS.horizontalStripes).label, unit(PLANTED_UNITS.horizontalStripes).category], ['horizontal stripes', 'texture']);
  assert.ok(unit(PLANTED_UNITS.horizontalStripes).iou > 0.04 && unit(PLANTED_UNITS.horizontalStripes).interpretable);
  assert.ok(unit(PLANTED_UNITS.random).iou <= 0.04 && !unit(PLANTED_UNITS.random).interpretable,
    `random unit: ${unit(PLANTED_UNITS.random).label} ${unit(PLANTED_UNITS.random).iou}`);
  assert.equal(result.interpretable, 2);
  assert.deepEqual(result.categories.map((c) => [c.name, c.units, c.concepts]),
    [['color', 1, ['red']], ['texture', 1, ['horizontal stripes']], ['shape', 0, []]]);
});

describe('IoU arithmetic', () => {
  test('equals a direct computation: masks upsampled by tf.image.resizeBilinear, unions only over annotated images', async () => {
    const units = 3;
    const [h, w, sh, sw] = [5, 5, 12, 12];
    const images = 6;
    // Concepts 1, 2 in category 0; 3, 4 in category 1; 5 is a whole-image label of category 1.
    const categoryOf = Int32Array.of(0, 0, 0, 1, 1, 1);
    const r = rng(3);
    const blocks: Float32Array[] = [];
    const segs: Segmentation[] = [];
    for (let i = 0; i < images; i++) {
      blocks.push(Float32Array.from({ length: h * w * units }, () => r()));
      const hasCat1 = i % 3 !== 1;
      const plane0 = Uint16Array.from({ length: sh * sw }, () => (r() < 0.3 ? 0 : 1 + Math.floor(r() * 2)));
      const plane1 = Uint16Array.from({ length: sh * sw }, () => (!hasCat1 || r() < 0.4 ? 0 : 3 + Math.floor(r() * 2)));
      segs.push({ width: sw, height: sh, planes: [plane0, plane1], imageLabels: hasCat1 && i % 2 === 0 ? [5] : [], categories: hasCat1 ? [0, 1] : [0] });
    }
    const thresholds = Float64Array.of(0.6, 0.75, 0.9);
    const tally = new IouTally(units, 6, categoryOf, 2);
    blocks.forEach((b, i) => tally.addImage(b, 0, h, w, units, [0, 1, 2], thresholds, segs[i]!));
    const iou = tally.iou();

    const inter = new Float64Array(units * 6);
    const union = new Float64Array(units * 6);
    for (let i = 0; i < images; i++) {
      const up = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(blocks[i]!, [h, w, units]), [sh, sw], false, true).dataSync());
      for (let u = 0; u < units; u++) {
        for (let c = 1; c <= 5; c++) {
          if (!segs[i]!.categories.includes(categoryOf[c]!)) continue;
          for (let p = 0; p < sh * sw; p++) {
            const m = up[p * units + u]! > thresholds[u]!;
            const l = segs[i]!.planes.some((plane) => plane[p] === c) || segs[i]!.imageLabels.includes(c);
            if (m && l) inter[u * 6 + c]!++;
            if (m || l) union[u * 6 + c]!++;
          }
        }
      }
    }
    for (let u = 0; u < units; u++) {
      for (let c = 1; c <= 5; c++) {
        assert.ok(union[u * 6 + c]! > 0 && inter[u * 6 + c]! > 0, 'the case exercises every unit and concept');
        assert.ok(Math.abs(iou[u * 6 + c]! - inter[u * 6 + c]! / union[u * 6 + c]!) < 1e-12, `unit ${u} concept ${c}`);
      }
    }
  });
});

test('the streaming quantile is within 1% of the exact 0.995 quantile on 10^6 values per unit', () => {
  const n = 1_000_000;
  const r = rng(9);
  const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const draws: (() => number)[] = [
    () => gauss(), // signed, symmetric
    () => Math.max(0, gauss() * 2 + 0.3), // ReLU output: ~45% exact zeros
    () => -Math.log(r() + 1e-12) * 50, // heavy right tail
    () => 6 * r(), // bounded, like ReLU6
  ];
  const units = draws.length;
  const values = new Float32Array(n * units);
  for (let i = 0; i < n; i++) for (let u = 0; u < units; u++) values[i * units + u] = draws[u]!();
  const sketch = new UnitQuantiles(units);
  for (let start = 0; start < n; start += 50_000) sketch.add(values.subarray(start * units, (start + 50_000) * units), units, [0, 1, 2, 3]);
  const estimates = sketch.quantiles(0.995);
  for (let u = 0; u < units; u++) {
    const column = Float64Array.from({ length: n }, (_, i) => values[i * units + u]!).sort();
    const exact = column[Math.ceil(0.995 * n) - 1]!;
    assert.equal(sketch.count(u), n);
    assert.ok(Math.abs(estimates[u]! - exact) <= 0.01 * Math.abs(exact), `unit ${u}: estimate ${estimates[u]} vs exact ${exact}`);
  }
});

describe('built-in probe set', () => {
  test('11 colours, 8 textures and 8 shapes, all present; deterministic and order-independent', async () => {
    const probe = builtinProbe({ count: 400, size: 64, seed: 5 });
    assert.equal(PROBE_COLORS.length, 11);
    assert.equal(PROBE_TEXTURES.length, 8);
    assert.equal(PROBE_SHAPES.length, 8);
    const seen = new Set<number>();
    for (let i = 0; i < probe.length; i++) {
      const s = await probe.sample(i);
      assert.equal(s.image.width, 64);
      assert.equal(s.segmentation.planes.length, 3);
      s.segmentation.planes.forEach((plane) => plane.forEach((v) => seen.add(v)));
    }
    assert.equal(seen.size, probe.concepts.length, 'every concept (and "none") occurs');
    const late = await probe.sample(399);
    const again = await builtinProbe({ count: 400, size: 64, seed: 5 }).sample(399);
    assert.deepEqual(again.image.data, late.image.data);
    assert.notDeepEqual((await builtinProbe({ count: 400, size: 64, seed: 6 }).sample(399)).image.data, late.image.data);
  });

  test('masks agree with the pixels: colour labels name the nearest prototype; shape pixels are flat-coloured', async () => {
    const probe = builtinProbe({ count: 60, size: 96 });
    let agree = 0;
    let total = 0;
    for (let i = 0; i < probe.length; i++) {
      const { image, segmentation } = await probe.sample(i);
      const [colors, , shapes] = segmentation.planes;
      for (let p = 0; p < image.width * image.height; p++) {
        const rgb = [0, 1, 2].map((c) => image.data[p * 4 + c]!);
        const distance = (k: number) => Math.hypot(...rgb.map((v, j) => v - PROBE_COLORS[k]!.rgb[j]!));
        let best = 0;
        for (let k = 1; k < PROBE_COLORS.length; k++) if (distance(k) < distance(best)) best = k;
        total++;
        if (colors![p] === best + 1) agree++;
        if (shapes![p] !== 0) assert.equal(segmentation.planes[1]![p], 0, 'a shape pixel carries no texture label');
      }
    }
    assert.ok(agree / total > 0.95, `${(100 * agree / total).toFixed(1)}% of pixels are nearest to their labelled colour`);
  });
});

function writePng(file: string, width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): void {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      png.data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(png));
}

function writeBroden(root: string, options: { segSize?: number } = {}): void {
  fs.mkdirSync(path.join(root, 'images'), { recursive: true });
  fs.writeFileSync(path.join(root, 'category.csv'), 'name,first,last,count,frequency\ncolor,1,2,2,2\nobject,3,300,2,2\nscene,301,301,1,1\n');
  fs.writeFileSync(path.join(root, 'label.csv'),
    'number,name,category,frequency,coverage,syns\n1,red-c,color(2),2,0.5,\n2,blue-c,color(2),2,0.5,\n3,"dog, puppy",object(2);part(1),2,0.2,canine\n300,sky,object(1),1,0.1,\n301,beach,scene(1),1,1,\n');
  fs.writeFileSync(path.join(root, 'index.csv'),
    'image,split,ih,iw,sh,sw,color,object,scene\n' +
    'a.jpg,train,8,8,4,4,a_color.png,a_object.png,301\n' +
    'b.png,train,8,8,4,4,b_color.png,,\n');
  writePng(path.join(root, 'images/a.jpg.png'), 8, 8, () => [0, 0, 0]);
  fs.renameSync(path.join(root, 'images/a.jpg.png'), path.join(root, 'images/a.jpg'));
  writePng(path.join(root, 'images/b.png'), 8, 8, () => [255, 255, 255]);
  const s = options.segSize ?? 4;
  writePng(path.join(root, 'images/a_color.png'), s, s, (x) => [x < 2 ? 1 : 2, 0, 0]);
  writePng(path.join(root, 'images/a_object.png'), s, s, (_x, y) => (y === 0 ? [300 % 256, 1, 0] : [3, 0, 0]));
  writePng(path.join(root, 'images/b_color.png'), s, s, () => [2, 0, 0]);
}

describe('Broden-format datasets', () => {
  test('labels decode as R + 256·G; numbers are whole-image labels; categories come from label.csv', async () => {
    const root = tempDir('loupe-broden-');
    writeBroden(root);
    const probe = openProbe({ kind: 'path', path: root }, DECODE);
    assert.equal(probe.kind, 'broden');
    assert.deepEqual(probe.categories, ['color', 'object', 'scene']);
    assert.equal(probe.concepts[3]!.name, 'dog, puppy');
    assert.equal(probe.concepts[3]!.category, 'object');
    assert.equal(probe.concepts[300]!.category, 'object');
    const a = await probe.sample(0);
    assert.deepEqual(Array.from(a.segmentation.planes[0]!.slice(0, 4)), [1, 1, 2, 2]);
    assert.deepEqual(Array.from(a.segmentation.planes[1]!.slice(0, 5)), [300, 300, 300, 300, 3]);
    assert.deepEqual(a.segmentation.imageLabels, [301]);
    assert.deepEqual(a.segmentation.categories, [0, 1, 2]);
    const b = await probe.sample(1);
    assert.deepEqual(b.segmentation.categories, [0], 'b is annotated for colour only');
  });

  test('a missing CSV or a segmentation of the wrong size is an error naming the file', async () => {
    const root = tempDir('loupe-broden-');
    writeBroden(root);
    fs.rmSync(path.join(root, 'label.csv'));
    assert.throws(() => openProbe({ kind: 'path', path: root }, DECODE),
      (e: unknown) => e instanceof LoupeError && e.message.includes(path.join(root, 'label.csv')) && /missing/.test(e.message));
    const root2 = tempDir('loupe-broden-');
    writeBroden(root2, { segSize: 5 });
    const probe = openProbe({ kind: 'path', path: root2 }, DECODE);
    await assert.rejects(probe.sample(0),
      (e: unknown) => e instanceof LoupeError && e.message.includes(path.join(root2, 'images', 'a_color.png')) && /5×5.*4×4/.test(e.message));
  });
});

describe('concept-folder datasets', () => {
  test('one folder per concept with image + mask pairs; categories.json; wrong-size mask named', async () => {
    const root = tempDir('loupe-folders-');
    writePng(path.join(root, 'stripes/one.png'), 6, 6, () => [10, 10, 10]);
    writePng(path.join(root, 'stripes/one.mask.png'), 6, 6, (_x, y) => (y < 3 ? [255, 255, 255] : [0, 0, 0]));
    writePng(path.join(root, 'wheel/w.png'), 6, 6, () => [10, 10, 10]);
    writePng(path.join(root, 'wheel/w.mask.png'), 6, 6, (x) => (x === 0 ? [255, 255, 255] : [0, 0, 0]));
    fs.writeFileSync(path.join(root, 'categories.json'), JSON.stringify({ stripes: 'texture', wheel: 'part' }));
    const probe = openProbe({ kind: 'path', path: root }, DECODE);
    assert.equal(probe.kind, 'folders');
    assert.deepEqual(probe.categories, ['texture', 'part']);
    const s = await probe.sample(0);
    assert.equal(s.segmentation.planes[0]!.reduce((a, v) => a + (v === 1 ? 1 : 0), 0), 18);
    assert.deepEqual(s.segmentation.categories, [0]);
    const w = await probe.sample(1);
    assert.equal(w.segmentation.planes[0]!.reduce((a, v) => a + (v === 2 ? 1 : 0), 0), 6);

    writePng(path.join(root, 'wheel/w.mask.png'), 5, 6, () => [255, 255, 255]);
    const stale = openProbe({ kind: 'path', path: root }, DECODE);
    await assert.rejects(stale.sample(1), (e: unknown) => e instanceof LoupeError && e.message.includes(path.join(root, 'wheel/w.mask.png')));
    fs.rmSync(path.join(root, 'wheel/w.mask.png'));
    assert.throws(() => openProbe({ kind: 'path', path: root }, DECODE), (e: unknown) => e instanceof LoupeError && e.message.includes(path.join(root, 'wheel/w.png')));
  });
});

describe('results on disk', () => {
  test('a second request is answered from the cache; strips show the top images', async () => {
    const options = { layer: 'detectors', probe: { kind: 'builtin' as const, count: 40 }, topImages: 4 };
    const first = await engine.dissect(planted, options);
    assert.equal(first.cached, false);
    const second = await engine.dissect(planted, options);
    assert.equal(second.cached, true);
    assert.deepEqual(second.units, first.units);
    assert.equal(second.dir, first.dir);
    for (const u of first.units) {
      const png = PNG.sync.read(fs.readFileSync(path.join(first.dir, u.strip)));
      assert.equal(png.height, 112);
      assert.equal(png.width, 4 * 112 + 3 * 2);
      assert.equal(u.top.length, 4);
      assert.ok(u.top.every((t, i) => i === 0 || t.activation <= u.top[i - 1]!.activation), 'top images ranked by activation');
    }
    const listed = await engine.cachedDissections(planted);
    assert.ok(listed.some((s) => s.dir === first.dir));
    const other = await engine.dissect(planted, { ...options, quantile: 0.01 });
    assert.notEqual(other.dir, first.dir, 'parameters are part of the key');
  });

  test('a cancelled dissection leaves no cache entry and no partial folder', async () => {
    const controller = new AbortController();
    const options = { layer: 'detectors', probe: { kind: 'builtin' as const, count: 500, seed: 77 } };
    const before = (await engine.cachedDissections(planted)).length;
    await assert.rejects(engine.dissect(planted, options, {
      signal: controller.signal,
      onProgress: (f) => { if (f > 0.1) controller.abort(); },
    }), (e: unknown) => e instanceof LoupeError && e.code === 'CANCELLED');
    const model = await engine.model(planted);
    const modelDir = path.join(cacheDir, model.fingerprint.slice(0, 24));
    assert.deepEqual(fs.readdirSync(modelDir).filter((n) => n.includes('partial')), []);
    assert.equal((await engine.cachedDissections(planted)).length, before, 'the cancelled run added no entry');
    // A run killed outright cannot clean up: the next run removes the folders of dead processes.
    const orphan = path.join(modelDir, 'abc.partial-2147483646-dead');
    fs.mkdirSync(orphan);
    await engine.dissect(planted, { layer: 'detectors', probe: { kind: 'builtin', count: 8 } });
    assert.equal(fs.existsSync(orphan), false);
    assert.ok(!(await engine.cachedDissections(planted)).some((s) => s.probe.name.includes('seed 77')));
  });

  test('bad requests name what is wrong', async () => {
    await assert.rejects(engine.dissect(planted, { layer: 'logits' }), /'logits' is not a layer with a spatial/);
    await assert.rejects(engine.dissect(planted, { layer: 'detectors', quantile: 0.9 }), /quantile must be/);
    await assert.rejects(engine.dissect(planted, { layer: 'detectors', units: [3] }), /units must list channel indices 0–2/);
    await assert.rejects(engine.dissect(planted, { layer: 'detectors', probe: { kind: 'path', path: '/nonexistent/probe' } }), /probe dataset folder not found/);
  });
});
