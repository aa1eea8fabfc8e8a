/** Plain-text tables for the terminal. */
import { shapeInLayout } from '../protocol/formats';
import type { DissectionSummary, ExplainSummary, ModelDescription } from '../protocol/types';
import type { TcavResult } from '../protocol/tcav';

/** Left-aligned columns; columns listed in `right` are right-aligned (numbers). */
export function table(header: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells
    .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
    .join('  ')
    .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** Three significant digits, without exponent noise for ordinary magnitudes. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(2);
  return String(Number(x.toPrecision(3)));
}

export function describeTable(d: ModelDescription): string {
  const rows = d.layers.map((l) => [
    l.name,
    l.className,
    `[${shapeInLayout(l.outputShape, d.layout).join(', ')}]`,
    String(l.params),
    l.activation ?? '',
    l.isConv ? 'yes' : '',
  ]);
  const head = [
    `model   ${d.path} (${d.format}, ${d.name})`,
    `input   ${shapeInLayout(d.inputShape, d.layout).join('×')}, ${d.numClasses} classes, head ${d.head}, ${d.totalParams} parameters`,
    `cam     ${d.cam.available ? `available (layer ${d.cam.layer ?? d.defaultCamLayer ?? '?'})` : `not available: ${d.cam.reason}`}`,
    '',
  ].join('\n');
  const shapes = d.layout === 'NCHW' ? 'output C×H×W' : 'output H×W×C';
  return head + '\n' + table(['layer', 'class', shapes, 'params', 'activation', 'conv'], rows, new Set([3]));
}

export function explainTable(s: ExplainSummary, outDir: string, files: number): string {
  const top = s.predictions[0];
  const first = s.maps[0];
  const lines = [
    `model   ${s.model} (backend ${s.backend})`,
    `image   ${s.image}`,
    top ? `top-1   ${top.index} ${JSON.stringify(top.label)} p=${num(top.probability)} logit=${num(top.logit)}` : '',
    first ? `target  class ${first.targetClass} ${JSON.stringify(first.label)} (${first.target})` : '',
    '',
  ].filter((l, i, all) => l !== '' || i === all.length - 1);
  const rows = s.maps.map((m) => [
    m.method,
    String(Math.round(m.ms)),
    `[${m.shape.join(', ')}]`,
    Object.entries(m.figures).map(([k, v]) => `${k}=${num(v)}`).join(' '),
  ]);
  let out = lines.join('\n') + '\n' + table(['method', 'ms', 'shape', 'figures'], rows, new Set([1]));
  for (const skip of s.skipped ?? []) out += `skipped ${skip.method}: ${skip.reason}\n`;
  for (const note of s.inputNotes ?? []) out += `note: ${note}\n`;
  for (const m of s.maps) if (m.nearUniform) out += `note: ${m.method} ${m.nearUniform}\n`;
  out += `wrote ${files} files to ${outDir}\n`;
  return out;
}

export function dissectTable(s: DissectionSummary, outDir: string): string {
  const cats = s.categories.filter((c) => c.units > 0)
    .map((c) => `  ${c.name}: ${c.units} unit${c.units === 1 ? '' : 's'}, ${c.concepts.length} concept${c.concepts.length === 1 ? '' : 's'} (${c.concepts.slice(0, 6).join(', ')}${c.concepts.length > 6 ? ', …' : ''})`);
  const best = [...s.units].sort((a, b) => b.iou - a.iou).slice(0, 10)
    .map((u) => [String(u.unit), u.label, u.category, num(u.iou), u.interpretable ? 'yes' : '']);
  return [
    `${s.layer} [${s.layerShape.join(', ')}] over ${s.probe.name}: ${s.interpretable}/${s.units.length} units interpretable (IoU > ${s.params.iouThreshold})`,
    ...cats,
    '',
    table(['unit', 'concept', 'category', 'IoU', 'interpretable'], best, new Set([0, 3])).trimEnd(),
    '',
    `${s.cached ? 'from the cache' : `computed in ${(s.ms / 1000).toFixed(1)} s`} on ${s.backend}; wrote tally.csv, report.html, result.json, units/ to ${outDir}`,
    '',
  ].join('\n');
}

export function tcavTable(r: TcavResult, outDir: string): string {
  const rows = r.layers.flatMap((l) => [
    ...l.concepts.map((c) => [l.layer, c.concept, num(c.mean), num(c.std), c.pValue === null ? 'undefined' : num(c.pValue),
      c.significant ? 'yes' : '', `${num(c.cavAccuracy)}${c.lowAccuracy ? ' (low)' : ''}`]),
    [l.layer, '(random runs)', num(l.random.mean), num(l.random.std), '', '', num(l.random.cavAccuracy)],
  ]);
  const p = r.params;
  return [
    `TCAV of class ${r.classIndex} ${JSON.stringify(r.classLabel)} (its logit) over ${r.classImages.images} images; ${p.runs} runs of ${p.cav} CAVs, up to ${p.imagesPerSet} images per set, seed ${p.seed}`,
    `significant: p < ${p.alpha}/${p.tests} = ${num(p.correctedAlpha)} (two-sided Student t-test against the random runs, Bonferroni over concepts × layers)`,
    '',
    table(['layer', 'concept', 'TCAV', 'std', 'p', 'significant', 'CAV accuracy'], rows, new Set([2, 3, 4, 6])).trimEnd(),
    ...r.notes.map((n) => `note: ${n}`),
    '',
    `${r.cached ? 'from the cache' : `computed in ${(r.ms / 1000).toFixed(1)} s`} on ${r.backend}; wrote tcav.csv, tcav.json, tcav.png to ${outDir}`,
    '',
  ].join('\n');
}
