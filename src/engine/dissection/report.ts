/**
 * A dissection as files a person can keep: tally.csv in NetDissect's layout (unit, category, label,
 * score — units are the layer's channel indices, from 0), report.html (per-category chart and every
 * unit with its strip), result.json and the strips themselves.
 */
import * as path from 'node:path';
import { writeRunFiles } from '../output/runFiles';
import type { DissectionSummary } from '../../protocol/types';

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function tallyCsv(s: DissectionSummary): string {
  const rows = [...s.units].sort((a, b) => b.iou - a.iou)
    .map((u) => [String(u.unit), csvCell(u.category), csvCell(u.label), u.iou.toFixed(6)].join(','));
  return ['unit,category,label,score', ...rows].join('\n') + '\n';
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function categoryChart(s: DissectionSummary): string {
  const max = Math.max(1, ...s.categories.map((c) => c.units));
  const rowH = 26;
  const bars = s.categories.map((c, i) => {
    const y = i * rowH;
    const w = (c.units / max) * 300;
    return `<text x="0" y="${y + 17}">${escapeHtml(c.name)}</text>` +
      `<rect x="90" y="${y + 4}" width="${w.toFixed(1)}" height="18" fill="#4c78a8"/>` +
      `<text x="${(96 + w).toFixed(1)}" y="${y + 17}">${c.units} units, ${c.concepts.length} concepts</text>`;
  }).join('');
  return `<svg width="560" height="${s.categories.length * rowH + 4}" font-size="13" role="img" aria-label="interpretable units per category">${bars}</svg>`;
}

export function reportHtml(s: DissectionSummary): string {
  const units = [...s.units].sort((a, b) => b.iou - a.iou).map((u) => `
<tr class="${u.interpretable ? 'yes' : 'no'}"><td>${u.unit}</td><td>${escapeHtml(u.label)}</td><td>${escapeHtml(u.category)}</td><td>${u.iou.toFixed(3)}</td>
<td>${u.runnersUp.map((r) => `${escapeHtml(r.label)} ${r.iou.toFixed(3)}`).join(', ')}</td><td><img loading="lazy" src="${escapeHtml(u.strip)}" alt="top images of unit ${u.unit}"></td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dissection of ${escapeHtml(s.layer)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px}td{padding:4px 8px;vertical-align:middle}tr.no{opacity:.55}
img{height:64px;image-rendering:pixelated}table{border-collapse:collapse}tr{border-bottom:1px solid #ddd}</style></head>
<body><h1>${escapeHtml(s.layer)} <small>[${s.layerShape.join(' × ')}]</small></h1>
<p>${escapeHtml(s.model)}<br>probe: ${escapeHtml(s.probe.name)}; quantile ${s.params.quantile}, IoU threshold ${s.params.iouThreshold}; ${s.backend}</p>
<p><b>${s.interpretable}/${s.units.length}</b> units interpretable (IoU &gt; ${s.params.iouThreshold}).</p>
${categoryChart(s)}
<table><thead><tr><th>unit</th><th>concept</th><th>category</th><th>IoU</th><th>next best</th><th>top images (mask outlined)</th></tr></thead><tbody>${units}</tbody></table>
</body></html>
`;
}

export async function writeDissectionReport(s: DissectionSummary, outDir: string): Promise<string[]> {
  return writeRunFiles(outDir, [
    ...s.units.map((u) => ({ name: u.strip, copyFrom: path.join(s.dir, u.strip) })),
    { name: 'result.json', bytes: JSON.stringify(s, null, 1) },
    { name: 'tally.csv', bytes: tallyCsv(s) },
    { name: 'report.html', bytes: reportHtml(s) },
  ]);
}
