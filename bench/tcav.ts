/**
 * TCAV's cost on the MobileNetV2-sized model (224×224, random weights): 20 runs × 3 built-in concepts × 3
 * layers spread through the network, 50 class images and 50 images per set (built-in random images: a pool
 * of 200), in a child process of its own. Target: under 60 s on 2 cores, split into activations (decoding +
 * forward passes), gradients (one backward pass per class image and layer), CAV training (the layers' Gram
 * products + 20 × (3 + 1) × 3 CAV fits) and statistics.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PNG } from 'pngjs';
import { drawConceptImage } from '../src/engine/dissection/probe/conceptImages';
import { Engine } from '../src/engine/engine';
import type { TcavTimings } from '../src/protocol/tcav';
import { everyTenSeconds } from './dissection';

export const TCAV_LAYERS = ['block_5_expand_relu', 'block_12_expand_relu', 'head_relu'];
export const TCAV_CONCEPTS = ['red', 'horizontal-stripes', 'circle'];
const TARGET_MS = 60_000;

export interface TcavSpec {
  kind: 'tcav';
  name: string;
  modelPath: string;
  quick: boolean;
}

export interface TcavBench {
  name: string;
  layers: { name: string; shape: number[] }[];
  concepts: number;
  runs: number;
  classImages: number;
  imagesPerSet: number;
  ms: number;
  timings: TcavTimings;
  peakRssMB: number;
  backend: string;
}

export function tcavSizes(quick: boolean): { runs: number; images: number } {
  return quick ? { runs: 5, images: 10 } : { runs: 20, images: 50 };
}

export async function measureTcav(spec: TcavSpec, progress: (text: string) => void): Promise<TcavBench> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-tcav-'));
  try {
    const { runs, images } = tcavSizes(spec.quick);
    const classDir = path.join(tmp, 'class');
    fs.mkdirSync(classDir);
    for (let i = 0; i < images; i++) {
      const img = drawConceptImage('random', 224, 77, i);
      const png = new PNG({ width: 224, height: 224 });
      for (let k = 0; k < img.data.length; k++) png.data[k] = img.data[k]!;
      fs.writeFileSync(path.join(classDir, `class-${i}.png`), PNG.sync.write(png));
    }
    const engine = await Engine.create({ backend: 'auto', cacheDir: path.join(tmp, 'cache') });
    const description = await engine.describe(spec.modelPath);
    const t0 = performance.now();
    const result = await engine.tcav(spec.modelPath, {
      classIndex: 0, classImages: classDir, concepts: TCAV_CONCEPTS.map((name) => ({ kind: 'builtin', name })),
      layers: TCAV_LAYERS, runs, imagesPerSet: images,
    }, { onProgress: everyTenSeconds(progress) });
    return {
      name: spec.name,
      layers: TCAV_LAYERS.map((name) => ({ name, shape: description.layers.find((l) => l.name === name)!.outputShape })),
      concepts: TCAV_CONCEPTS.length,
      runs,
      classImages: images,
      imagesPerSet: images,
      ms: performance.now() - t0,
      timings: result.timings,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      backend: engine.backend,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function renderTcav(b: TcavBench | undefined, quick: boolean): string[] {
  if (!b) return [];
  const s = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
  const target = quick ? '' : b.ms < TARGET_MS ? ' (target < 60 s: pass)' : ' (target < 60 s: **FAIL**)';
  return [
    '',
    `TCAV: ${b.runs} runs × ${b.concepts} built-in concepts × ${b.layers.length} layers of the MobileNetV2-sized model `
      + `(${b.layers.map((l) => `${l.name} ${l.shape.join('×')}`).join(', ')}), ${b.classImages} class images, ${b.imagesPerSet} images per set, on ${b.backend}`,
    '',
    '| total | activations | gradients | CAV training | statistics | peak RSS |',
    '|---:|---:|---:|---:|---:|---:|',
    `| ${s(b.ms)}${target} | ${s(b.timings.activations)} | ${s(b.timings.gradients)} | ${s(b.timings.cavs)} | ${s(b.timings.statistics)} | ${b.peakRssMB.toFixed(0)} MB |`,
  ];
}
