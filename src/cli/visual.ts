/** `loupe visualize` and `loupe blocks`: the engine in-process, files written into --out. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Engine } from '../engine/engine';
import { positionOverlayPng } from '../engine/blocks/pictures';
import { encodeNpy } from '../engine/output/npy';
import { imagePng } from '../engine/output/overlay';
import { writeRunFiles } from '../engine/output/runFiles';
import type { BlocksResult } from '../protocol/blocks';
import type { FeatureVisSummary } from '../protocol/featureVis';
import { num } from './format';
import type { BlocksCommand, VisualizeCommand } from './visualArgs';

const err = (text: string) => process.stderr.write(text);

export function progressLine(): ((fraction: number, message: string) => void) | undefined {
  return process.stderr.isTTY === true ? (fraction, message) => err(`\r\x1b[K${Math.round(fraction * 100)}% ${message}`) : undefined;
}

export function writeInto(outDir: string, files: Array<[string, Buffer | string]>): Promise<string[]> {
  return writeRunFiles(outDir, files.map(([name, bytes]) => ({ name, bytes })));
}

export async function visualize(engine: Engine, cmd: VisualizeCommand): Promise<string> {
  const term = cmd.options.objective[0]!;
  if (term.kind === 'direction' && term.vector.length === 0) {
    const layer = (await engine.describe(cmd.model)).layers.find((l) => l.name === term.layer);
    const channels = layer?.outputShape.at(-1) ?? 0;
    term.vector = Array.from({ length: channels }, (_, c) => (c === cmd.unit ? 1 : 0));
  }
  const onProgress = progressLine();
  const s: FeatureVisSummary = await engine.visualize(cmd.model, cmd.options, onProgress ? { onProgress } : {});
  if (onProgress) err('\r\x1b[K');
  const stem = `unit_${cmd.unit}`;
  const files: Array<[string, Buffer | string]> = [[`${stem}.png`, fs.readFileSync(path.join(s.dir, s.image))]];
  if (s.images.length > 1) s.images.forEach((f, k) => files.push([`${stem}_${k}.png`, fs.readFileSync(path.join(s.dir, f))]));
  files.push(['summary.json', JSON.stringify(s, null, 2) + '\n']);
  await writeInto(cmd.out, files);
  const last = s.values.slice(-16);
  return [
    `${term.layer} unit ${cmd.unit} (${term.kind}): ${s.params.steps} steps at ${s.imageShape[0]} px on ${s.backend}`,
    `objective ${num(s.values[0] ?? 0)} → ${num(last.reduce((a, b) => a + b, 0) / Math.max(1, last.length))} (mean of the last ${last.length} steps)`,
    s.cached ? 'from the cache' : `${(s.ms / 1000).toFixed(1)} s: ${s.msPerStep.total.toFixed(1)} ms per step (parameterisation ${s.msPerStep.parameterisation.toFixed(1)}, model ${s.msPerStep.model.toFixed(1)})`,
    ...s.notes.map((n) => `note: ${n}`),
    `wrote ${files.length} files to ${cmd.out}`,
    '',
  ].join('\n');
}

export async function blocks(engine: Engine, cmd: BlocksCommand): Promise<string> {
  const onProgress = progressLine();
  const r: BlocksResult = await engine.blocks(cmd.model, cmd.image, cmd.options, onProgress ? { onProgress } : {});
  if (onProgress) err('\r\x1b[K');
  const [h, w, c] = r.layerShape;
  const k = r.groups.k;
  const picture = { width: r.picture.width, height: r.picture.height, data: Float32Array.from(Buffer.from(r.picture.rgba, 'base64')) };
  const flat = (rows: number[][]) => Float32Array.from(rows.flat());
  const files: Array<[string, Buffer | string]> = [
    ['groups.npy', encodeNpy(flat(r.groups.spatial), [k, h, w])],
    ['group_channels.npy', encodeNpy(flat(r.groups.channels), [k, c])],
    ['dictionary.json', JSON.stringify({ layer: r.layer, shape: r.layerShape, start: r.start, positions: r.dictionary }) + '\n'],
    ['spatial_attribution.npy', encodeNpy(Float32Array.from(r.spatial.toClass), [h, w])],
    ['spatial_attribution.png', positionOverlayPng(picture, r.spatial.toClass, h, w, true)],
    ['channel_attribution.npy', encodeNpy(Float32Array.from(r.channel.integrated), [c])],
    ['channel_attribution_simple.npy', encodeNpy(Float32Array.from(r.channel.simple), [c])],
    ['input.png', imagePng(picture)],
  ];
  r.groups.spatial.forEach((map, g) => files.push([`group_${g}.png`, positionOverlayPng(picture, map, h, w, false)]));
  if (r.spatial.toLayer) {
    const [h2, w2] = r.spatial.toLayer.shape;
    files.push([`spatial_attribution_to_${safeName(r.spatial.toLayer.layer)}.npy`, encodeNpy(flat(r.spatial.toLayer.maps), [h2, w2, h, w])]);
  }
  const { dictionary: _d, picture: _p, ...summary } = r;
  files.push(['summary.json', JSON.stringify(summary, null, 2) + '\n']);
  await writeInto(cmd.out, files);
  const top = [...r.channel.integrated.keys()].sort((a, b) => r.channel.integrated[b]! - r.channel.integrated[a]!).slice(0, 5);
  return [
    `${r.layer} [${r.layerShape.join(', ')}] of ${r.image}: ${r.score} (top-1 ${r.predictions[0]!.label}, p=${num(r.predictions[0]!.probability)})`,
    `channels that raise it most (path-integrated, N=${r.channel.pathSteps}): ${top.map((ch) => `${ch} (${num(r.channel.integrated[ch]!)})`).join(', ')}`,
    `  sum ${num(r.channel.integratedSum)} vs score change ${num(r.channel.scoreDifference)} along the path`,
    `neuron groups: ${k}, attribution ${r.groups.attribution.map(num).join(', ')}; NMF relative error ${num(r.groups.relativeError)} after ${r.groups.iterations} iterations`,
    ...r.notes.map((n) => `note: ${n}`),
    `${(r.ms / 1000).toFixed(1)} s on ${r.backend}; wrote ${files.length} files to ${cmd.out}`,
    '',
  ].join('\n');
}

function safeName(layer: string): string {
  return layer.replace(/[^A-Za-z0-9_.-]/g, '_');
}
