/**
 * TCAV end to end in the engine: the directional derivative against finite differences of the class
 * logit, a planted model whose class logit reads a red detector (red significant and ≥ 0.9, an unrelated
 * colour never significantly high, a random control significant no more often than the test's level),
 * reproducibility, the disk cache, a cancel that leaves nothing, and bad inputs with clear messages.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { drawConceptImage } from '../src/engine/dissection/probe/conceptImages';
import { Engine } from '../src/engine/engine';
import { CancelledError, LoupeError } from '../src/protocol/errors';
import { runGraph } from '../src/engine/model/executor';
import { fitCav } from '../src/engine/tcav/cav';
import { computeLayerProducts } from '../src/engine/tcav/features';
import { modelPasses } from '../src/engine/tcav/passes';
import { directionalDerivatives } from '../src/engine/tcav/score';
import type { ImageRef } from '../src/engine/tcav/sets';
import type { TcavOptions } from '../src/protocol/tcav';
import type { RgbaImage } from '../src/engine/types';
import { buildCoverageModel, randomImage, saveModel, tempDir } from './helpers/models';
import { PLANTED_SIZE, savePlantedModel } from './helpers/plantedModel';

let engine: Engine;
let cacheDir: string;
let planted: string;
let classDir: string;
const dirs: string[] = [];

function writePng(file: string, img: RgbaImage): void {
  const png = new PNG({ width: img.width, height: img.height });
  for (let i = 0; i < img.data.length; i++) png.data[i] = Math.max(0, Math.min(255, Math.round(img.data[i]!)));
  fs.writeFileSync(file, PNG.sync.write(png));
}

/** A folder of `count` images drawn by `draw(i)`. */
function folderOf(count: number, draw: (i: number) => RgbaImage, prefix = 'img'): string {
  const dir = tempDir('loupe-tcav-set-');
  dirs.push(dir);
  for (let i = 0; i < count; i++) writePng(path.join(dir, `${prefix}-${String(i).padStart(3, '0')}.png`), draw(i));
  return dir;
}

before(async () => {
  cacheDir = tempDir('loupe-tcav-cache-');
  engine = await Engine.create({ cacheDir });
  // Class 0's logit = the red detector's average (unit 0); class 1's = the horizontal-stripes detector's.
  planted = await savePlantedModel(7, [1, 0, 0, 1, 0, 0]);
  classDir = folderOf(6, (i) => drawConceptImage('random', PLANTED_SIZE, 3, i));
});
after(() => {
  for (const d of [cacheDir, ...dirs]) fs.rmSync(d, { recursive: true, force: true });
});

const RED_BLUE_RANDOM: TcavOptions['concepts'] = [{ kind: 'builtin', name: 'red' }, { kind: 'builtin', name: 'blue' }, { kind: 'builtin', name: 'random' }];

function plantedOptions(extra: Partial<TcavOptions> = {}): TcavOptions {
  return { classIndex: 0, classImages: classDir, concepts: RED_BLUE_RANDOM, layers: ['detectors'], runs: 20, imagesPerSet: 10, ...extra };
}

describe('directional derivative', () => {
  test('S = ∇f_class · v / ‖v‖ from the Gram products equals the finite difference of the class logit along the CAV, at a spatial and a dense layer', async () => {
    const file = await saveModel(buildCoverageModel());
    const model = await engine.model(file);
    const passes = modelPasses(model);
    const [h, w] = model.graph.inputShape;
    const ref = (seed: number): ImageRef => ({ key: `r${seed}`, load: async () => randomImage(w, h, seed) });
    const sets = Array.from({ length: 12 }, (_, i) => ref(100 + i));
    const cls = [ref(1), ref(2), ref(3)];
    for (const layer of ['proj', 'flat']) {
      const dims = model.description.layers.find((l) => l.name === layer)!.outputShape.reduce((a, b) => a * b, 1);
      const timings = { activations: 0, gradients: 0, products: 0 };
      const [products] = await computeLayerProducts(model, passes, sets, cls, 2, [{ name: layer, dims }], {}, timings, [0, 1]);
      const split = { trainPos: [0, 1, 2, 3, 4], trainNeg: [6, 7, 8, 9, 10], testPos: [5], testNeg: [11] };
      const cav = fitCav('logistic', products!.gram, sets.length, split, 1);
      const S = directionalDerivatives(cav, products!.cross, sets.length, cls.length);
      // The oracle: v built explicitly from the activations, and the logit evaluated (forward only) at h ± εv.
      const toInput = async (r: ImageRef) => {
        const img = await r.load();
        return Float32Array.from({ length: h * w * 3 }, (_, i) => img.data[Math.floor(i / 3) * 4 + (i % 3)]! / 255);
      };
      const actsOf = async (r: ImageRef) => (await passes.activations(await toInput(r), 1, [layer]))[0]!;
      const v = new Float64Array(dims);
      for (const [j, index] of cav.train.entries()) {
        const a = await actsOf(sets[index]!);
        for (let k = 0; k < dims; k++) v[k]! += (cav.coef[j]! * a[k]!) / cav.norm;
      }
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4, `‖v‖ = ${Math.hypot(...v)}`);
      const shape = [1, ...model.description.layers.find((l) => l.name === layer)!.outputShape];
      for (const [k, r] of cls.entries()) {
        const act = await actsOf(r);
        const logit = (eps: number) => tf.tidy(() => {
          const fed = tf.tensor(Float32Array.from(act, (a, i) => a + eps * v[i]!), shape);
          return runGraph(model.graph, tf.zeros([1, h, w, 3]), { outputs: [model.graph.logitsName], feeds: new Map([[layer, fed]]) })[0]!.dataSync()[2]!;
        });
        const eps = 1e-2;
        const fd = (logit(eps) - logit(-eps)) / (2 * eps);
        assert.ok(Math.abs(S[k]! - fd) <= 2e-3 * Math.max(1, Math.abs(fd)), `${layer}, class image ${k}: S = ${S[k]}, finite difference ${fd}`);
      }
    }
  });
});

describe('planted model: class 0 reads the red detector', () => {
  test('red scores ≥ 0.9 and is significant; blue is never significantly high; the random control flags its CAV accuracy', async () => {
    const r = await engine.tcav(planted, plantedOptions());
    const l = r.layers[0]!;
    const [red, blue, random] = l.concepts;
    assert.ok(red!.mean >= 0.9 && red!.significant && red!.pValue! < r.params.correctedAlpha, `red ${JSON.stringify({ ...red, runs: undefined })}`);
    assert.ok(!(blue!.significant && blue!.mean > l.random.mean), `blue ${blue!.mean} p ${blue!.pValue}`);
    assert.ok(random!.lowAccuracy && random!.cavAccuracy < 0.6, `random control accuracy ${random!.cavAccuracy}`);
    assert.equal(r.params.tests, 3);
    assert.equal(r.params.correctedAlpha, 0.05 / 3);
    assert.equal(l.random.runs.length, 20);
    assert.equal(red!.runs.length, 20);
    assert.equal(r.params.target, 'logit');
  });

  test('over 60 seeds: red significant and ≥ 0.9 in ≥ 95%, blue never significantly high, the random control significant in ≤ 5%', async (t) => {
    let red = 0;
    let blueHigh = 0;
    let control = 0;
    const seeds = 60;
    for (let seed = 0; seed < seeds; seed++) {
      const l = (await engine.tcav(planted, plantedOptions({ seed }))).layers[0]!;
      if (l.concepts[0]!.significant && l.concepts[0]!.mean >= 0.9) red++;
      if (l.concepts[1]!.significant && l.concepts[1]!.mean > l.random.mean) blueHigh++;
      if (l.concepts[2]!.significant) control++;
    }
    t.diagnostic(`red ${red}/${seeds}, blue significantly high ${blueHigh}/${seeds}, random control significant ${control}/${seeds}`);
    assert.ok(red >= 0.95 * seeds, `red significant in ${red}/${seeds}`);
    assert.equal(blueHigh, 0);
    assert.ok(control <= 0.05 * seeds, `the random control is significant in ${control}/${seeds} seeds`);
  });

  test('same seed → the same CAV accuracies, scores and p-values (recomputed); another seed → other draws', async () => {
    const a = await engine.tcav(planted, plantedOptions({ seed: 5, cav: 'sgd' }));
    const b = await engine.tcav(planted, plantedOptions({ seed: 5, cav: 'sgd', refresh: true }));
    const c = await engine.tcav(planted, plantedOptions({ seed: 6, cav: 'sgd' }));
    assert.equal(b.cached, false);
    assert.deepEqual(b.layers, a.layers);
    assert.notDeepEqual(c.layers[0]!.random.runs, a.layers[0]!.random.runs);
  });
});

describe('cache', () => {
  test('a second request is read from disk with the same numbers; its folder holds tcav.csv, tcav.json, tcav.png', async () => {
    const options = plantedOptions({ seed: 11, runs: 4, cav: 'mean' });
    const first = await engine.tcav(planted, options);
    const second = await engine.tcav(planted, options);
    assert.equal(second.cached, true);
    assert.deepEqual(second.layers, first.layers);
    const csv = fs.readFileSync(path.join(first.dir, 'tcav.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'layer,concept,tcav_mean,tcav_std,p_value,significant,cav_accuracy');
    assert.equal(csv.length, 1 + 3);
    assert.equal(csv[1]!.split(',')[2], String(first.layers[0]!.concepts[0]!.mean));
    const json = JSON.parse(fs.readFileSync(path.join(first.dir, 'tcav.json'), 'utf8')) as { layers: { concepts: { runs: unknown[] }[] }[] };
    assert.equal(json.layers[0]!.concepts[0]!.runs.length, 4);
    assert.ok(fs.readFileSync(path.join(first.dir, 'tcav.png')).subarray(1, 4).toString() === 'PNG');
    assert.ok((await engine.cachedTcav(planted)).some((r) => r.key === first.key));
  });

  test('a cancelled run leaves nothing in the cache', async () => {
    const before = listTree(path.join(cacheDir, 'tcav'));
    const abort = new AbortController();
    await assert.rejects(engine.tcav(planted, plantedOptions({ seed: 99, runs: 6 }), {
      signal: abort.signal,
      onProgress: (f) => { if (f > 0.2) abort.abort(); },
    }), CancelledError);
    assert.deepEqual(listTree(path.join(cacheDir, 'tcav')), before);
  });
});

function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}

describe('bad input', () => {
  const rejects = async (options: Partial<TcavOptions>, pattern: RegExp) => {
    await assert.rejects(engine.tcav(planted, plantedOptions(options)), (err: unknown) => {
      assert.ok(err instanceof LoupeError, `not a LoupeError: ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    });
  };

  test('an empty class folder, a missing one, a file instead of a folder', async () => {
    const empty = tempDir('loupe-tcav-empty-');
    dirs.push(empty);
    await rejects({ classImages: empty }, /holds no PNG or JPEG images/);
    await rejects({ classImages: path.join(empty, 'nope') }, /class images folder not found/);
    const file = path.join(empty, 'file.txt');
    fs.writeFileSync(file, 'x');
    await rejects({ classImages: file }, /is not a folder/);
  });

  test('an unreadable (corrupt) image names its file', async () => {
    const dir = folderOf(3, (i) => drawConceptImage('red', 32, 1, i));
    fs.writeFileSync(path.join(dir, 'broken.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('not really')]));
    await rejects({ classImages: dir }, /broken\.png: corrupt PNG/);
  });

  test('fewer than 2 images in a set', async () => {
    const one = folderOf(1, (i) => drawConceptImage('red', 32, 1, i));
    await rejects({ concepts: [{ kind: 'folder', path: one }] }, /holds 1 image; a set needs at least 2/);
  });

  test('fewer random sets than runs (sub-folders used as given)', async () => {
    const random = tempDir('loupe-tcav-random-');
    dirs.push(random);
    for (let s = 0; s < 3; s++) {
      const sub = path.join(random, `set${s}`);
      fs.mkdirSync(sub);
      for (let i = 0; i < 3; i++) writePng(path.join(sub, `${i}.png`), drawConceptImage('random', 32, s, i));
    }
    await rejects({ random: { kind: 'folder', path: random }, runs: 5 }, /has 3 random sets \(sub-folders\); 5 runs need 6/);
  });

  test('a class index out of range, an unknown layer, the input layer, an unknown built-in concept', async () => {
    await rejects({ classIndex: 2 }, /class 2 does not exist: the model has classes 0–1/);
    await rejects({ layers: ['nope'] }, /'nope' is not a layer of this model/);
    await rejects({ layers: ['image'] }, /'image' is the input/);
    await rejects({ concepts: [{ kind: 'builtin', name: 'stripes' }] }, /'stripes' is not a built-in concept/);
    await rejects({ runs: 1 }, /runs must be an integer from 2/);
  });

  test('a dense layer is allowed: CAVs on its flattened output, and the result says so', async () => {
    const r = await engine.tcav(planted, plantedOptions({ layers: ['gap'], runs: 4 }));
    assert.deepEqual(r.layers[0]!.shape, [3]);
    assert.equal(r.layers[0]!.dims, 3);
    assert.ok(r.notes.some((n) => /gap .*non-spatial \(dense\)/.test(n)), r.notes.join('; '));
    assert.ok(r.layers[0]!.concepts[0]!.mean >= 0.9, `red at gap: ${r.layers[0]!.concepts[0]!.mean}`);
  });
});
