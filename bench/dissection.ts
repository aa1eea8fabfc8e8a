/**
 * Network dissection's cost: one layer of the MobileNetV2-sized model, 256 units, over the built-in
 * probe set, each size in its own child process so that peak RSS belongs to that run alone.
 * Targets: ≤ 60 s for 1,000 images; peak RSS at 2,000 images within 10% of that at 500.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Engine } from '../src/engine/engine';

export const DISSECT_LAYER = 'block_7_expand_relu';
export const DISSECT_UNITS = 256;

export interface DissectSpec {
  kind: 'dissect';
  name: string;
  modelPath: string;
  images: number;
}

export interface DissectBench {
  name: string;
  layer: string;
  layerShape: number[];
  units: number;
  images: number;
  ms: number;
  peakRssMB: number;
  interpretable: number;
  backend: string;
}

/** An engine progress callback that passes a line on to `progress` at most every 10 s. */
export function everyTenSeconds(progress: (text: string) => void): (fraction: number, message: string) => void {
  let last = 0;
  return (fraction, message) => {
    const now = performance.now();
    if (now - last > 10_000) {
      last = now;
      progress(`${Math.round(fraction * 100)}% ${message}`);
    }
  };
}

export async function measureDissection(spec: DissectSpec, progress: (text: string) => void): Promise<DissectBench> {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-dissect-'));
  try {
    const engine = await Engine.create({ backend: 'auto', cacheDir });
    await engine.describe(spec.modelPath);
    const t0 = performance.now();
    const summary = await engine.dissect(spec.modelPath, {
      layer: DISSECT_LAYER,
      units: Array.from({ length: DISSECT_UNITS }, (_, i) => i),
      probe: { kind: 'builtin', count: spec.images },
    }, { onProgress: everyTenSeconds(progress) });
    return {
      name: spec.name,
      layer: DISSECT_LAYER,
      layerShape: summary.layerShape,
      units: summary.units.length,
      images: spec.images,
      ms: performance.now() - t0,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      interpretable: summary.interpretable,
      backend: engine.backend,
    };
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

/** Image counts measured: the timed run and the two RSS runs. */
export function dissectionSizes(quick: boolean): { timed: number; small: number; large: number } {
  return quick ? { timed: 200, small: 100, large: 400 } : { timed: 1000, small: 500, large: 2000 };
}

export function renderDissection(runs: DissectBench[], quick: boolean): string[] {
  if (runs.length === 0) return [];
  const sizes = dissectionSizes(quick);
  const lines = ['', `Network dissection: ${DISSECT_UNITS} units of ${DISSECT_LAYER} [${runs[0]!.layerShape.join('×')}] of the MobileNetV2-sized model, built-in probe images at 112×112 (resized to the model's 224×224 input)`, ''];
  lines.push('| images | time | per image | peak RSS | interpretable units | target |');
  lines.push('|---:|---:|---:|---:|---:|---|');
  const timed = runs.find((r) => r.images === sizes.timed);
  for (const r of [...runs].sort((a, b) => a.images - b.images)) {
    const target = r === timed && !quick ? (r.ms <= 60_000 ? '≤ 60 s: pass' : '≤ 60 s: **FAIL**') : '';
    lines.push(`| ${r.images} | ${(r.ms / 1000).toFixed(1)} s | ${(r.ms / r.images).toFixed(1)} ms | ${r.peakRssMB.toFixed(0)} MB | ${r.interpretable}/${r.units} | ${target} |`);
  }
  const small = runs.find((r) => r.images === sizes.small);
  const large = runs.find((r) => r.images === sizes.large);
  if (small && large) {
    const growth = large.peakRssMB / small.peakRssMB - 1;
    lines.push('');
    lines.push(`Peak RSS at ${large.images} images vs ${small.images}: ${growth >= 0 ? '+' : ''}${(100 * growth).toFixed(1)}% ` +
      `(target within 10%: ${Math.abs(growth) <= 0.1 ? 'pass' : '**FAIL**'}).`);
  }
  return lines;
}
