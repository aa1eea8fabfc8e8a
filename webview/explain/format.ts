/** Text the panel shows under each map. Pure: the Node tests import it. */
import type { MapSummary, MethodId, Preprocessing } from '../../src/protocol/types';

export const METHOD_TITLES: Record<MethodId, string> = {
  gradient: 'Gradient',
  gradxinput: 'Gradient × input',
  smoothgrad: 'SmoothGrad',
  'smoothgrad-sq': 'SmoothGrad²',
  vargrad: 'VarGrad',
  ig: 'Integrated Gradients',
  'guided-backprop': 'Guided backprop',
  deconvnet: 'Deconvnet',
  cam: 'CAM',
  gradcam: 'Grad-CAM',
  'guided-gradcam': 'Guided Grad-CAM',
  occlusion: 'Occlusion',
};

/** Parameters shown elsewhere on the card (the layer is a link) are left out. */
const HIDDEN_PARAMS = new Set(['layer']);

export function formatParams(params: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (HIDDEN_PARAMS.has(key) || value === undefined || value === null) continue;
    parts.push(`${key} ${formatValue(value)}`);
  }
  return parts.join(' · ');
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : formatNumber(value);
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** How the image was fed, e.g. "range [-1, 1] · mean 0.5 · std 0.25 · rgb" (x = ((pixel/255)·(max−min) + min − mean) / std). */
export function formatPreprocessing(p: Preprocessing): string {
  const list = (v: number[]) => v.map(formatNumber).join(', ');
  return `range [${list(p.range)}] · mean ${list(p.mean)} · std ${list(p.std)} · ${p.channels}`;
}

export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function formatPercent(p: number): string {
  const pct = p * 100;
  if (pct !== 0 && Math.abs(pct) < 0.1) return `${pct.toExponential(1)} %`;
  return `${pct.toFixed(1)} %`;
}

const FIGURE_LABELS: Record<string, [string, string]> = {
  sumAttributions: ['Σ attributions', 'Sum of the attribution map; completeness says it equals f(x) − f(baseline)'],
  scoreInput: ['f(x)', 'Target score of the input'],
  scoreBaseline: ['f(baseline)', 'Target score of the baseline'],
  threads: ['Threads', 'CPU threads that computed the samples: the engine\'s and its lanes (setting LOUPE_LANES)'],
};

/** The figures a card lists, as [label, value, tooltip] rows. Unknown figures are listed with their key. */
export function figureRows(summary: Pick<MapSummary, 'figures'>): Array<[string, string, string]> {
  const rows: Array<[string, string, string]> = [];
  const f = summary.figures;
  for (const [key, value] of Object.entries(f)) {
    if (key === 'completenessError') {
      rows.push(['IG completeness error', formatPercent(value),
        '|Σ attributions − (f(x) − f(baseline))| / |f(x) − f(baseline)| (Sundararajan et al. 2017)']);
    } else if (key === 'sanitySpearman') {
      rows.push(['Sanity ρ (Spearman)', formatNumber(value),
        'Rank correlation with the map of a model whose top layers were re-initialised (Adebayo et al. 2018); near 1 means the map ignores what those layers learned']);
    } else if (key in FIGURE_LABELS) {
      const [label, tooltip] = FIGURE_LABELS[key]!;
      rows.push([label, formatNumber(value), tooltip]);
    } else {
      rows.push([key, formatNumber(value), '']);
    }
  }
  return rows;
}
